"""``codec eval``: models at several codebook counts plus baselines, the report, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import soundfile as sf

from codec.audio import load_audio
from codec.cli.eval import add_parser, run
from codec.data.manifest import BUNDLED_SPEECH_DIR
from tests.cli.conftest import cli
from tests.conftest import make_codec

SPEECH = BUNDLED_SPEECH_DIR / "val_seen" / "en_allison__vm-incorrect-mailbox.flac"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """One second of real speech and one corrupt file."""
    folder = tmp_path / "data"
    folder.mkdir()
    sf.write(folder / "a.wav", load_audio(SPEECH, sample_rate=16000).wav[0, :16000].numpy(), 16000)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return folder


def test_eval(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = make_codec().save_pretrained(tmp_path / "model")
    parser = argparse.ArgumentParser(prog="codec")
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(model_dir), "-k", "2,4", str(data_dir / "a.wav")]
    argv += [str(data_dir / "corrupt.wav"), "-o", str(out), "--baselines", "opus:6k,8k", "-q"]
    argv += ["--metrics", "si_sdr,stft_distance", "--stability-cycles", "1", "--no-plots"]
    args = parser.parse_args(argv)
    assert args.func is run
    assert run(args) == 1  # corrupt.wav could not be read: the report covers a.wav
    assert "error: " + str(data_dir / "corrupt.wav") in capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    names = [s["name"] for s in data["systems"]]
    assert names == ["tiny-test K=2", "tiny-test K=4", "opus 6 kbps", "8 kHz 16-bit PCM"]
    assert len(data["errors"]) == 1 and data["settings"]["num_files"] == 1
    code, _, err = cli(capsys, *argv)  # refuses to overwrite: exit code 1, like encode
    assert code == 1 and "already holds a report" in err
    code, _, err = cli(capsys, "eval", data_dir, "--baselines", "mp3", "-o", tmp_path / "x")
    assert code == 2 and err.startswith("error: --baselines")
