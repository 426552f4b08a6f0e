"""Messages that say what is wrong: a full disk, an output that is the input, a resumed output
made with another K, an unknown file for ``info``, a ``.ckpt`` that is no checkpoint, errors of
our temp files, and two inputs with one output name. Each: the exit code, one ``error:`` line,
and nothing lost or overwritten."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from codec.model import Codec
from tests.cli.conftest import cli, write
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal model (K = 4 codebooks, 16 kHz)."""
    torch.manual_seed(0)
    return Codec(tiny_config()).eval().save_pretrained(tmp_path_factory.mktemp("model") / "m")


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("error:", "warning:"))]


def one_error(err: str) -> str:
    found = errors(err)
    assert len(found) == 1, err
    return found[0]


@pytest.fixture
def tokens(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """``good.tok``: 3 s of a test tone encoded by the causal model (K = 4)."""
    wav = write(tmp_path / "good.wav", n=48000)
    code, _, _ = cli(capsys, "encode", wav, "-o", tmp_path / "good.tok", "-m", model)
    assert code == 0
    return tmp_path / "good.tok"


def full_disk(*_: Any, **__: Any) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("command", ["decode", "roundtrip", "stream"])
def test_disk_full_names_the_output(
    command: str,
    tokens: Path,
    tmp_path: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("codec.audio.blocks.open_writer", full_disk)
    monkeypatch.setattr("codec.cli.stream.write_block", full_disk)
    out = tmp_path / "out" / "good.wav"
    source = tokens if command == "decode" else tmp_path / "good.wav"
    code, _, err = cli(capsys, command, source, "-o", out, "-m", model)
    assert code == 1
    line = one_error(err)
    assert f"no space left on device writing {out}" in line
    if command == "decode":  # the input is named as the file that failed, the disk as why
        assert line.startswith(f"error: {tokens}: ")
    assert not out.exists() and not list(out.parent.glob(".*"))


def can_mount_tmpfs() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    probe = "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"
    done = subprocess.run(["unshare", "-r", "-m", "sh", "-c", probe], capture_output=True)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not can_mount_tmpfs(), reason="no user namespaces to mount a small tmpfs")
def test_real_full_disk(tokens: Path, tmp_path: Path, model: Path) -> None:
    """A 64 KiB tmpfs (in a user namespace) as the output folder: libsndfile only says
    "System error", the message must still say the disk is full."""
    full = tmp_path / "full"
    full.mkdir()
    script = (
        "import sys; from codec.cli import main; "
        f"codes = [main(['decode', {str(tokens)!r}, '-o', {str(full / 'd.wav')!r}, '-m', "
        f"{str(model)!r}]), main(['stream', {str(tmp_path / 'good.wav')!r}, '-o', "
        f"{str(full / 's.wav')!r}, '-m', {str(model)!r}])]; print([int(c) for c in codes])"
    )
    shell = f'mount -t tmpfs -o size=64k tmpfs {full} && {sys.executable} -c "{script}"'
    done = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", shell], capture_output=True, text=True, cwd=ROOT
    )
    assert done.stdout.strip().splitlines()[-1] == "[1, 1]", done.stderr
    lines = errors(done.stderr)
    assert lines == [
        f"error: {tokens}: no space left on device writing {full / 'd.wav'}",
        f"error: no space left on device writing {full / 's.wav'}",
    ], done.stderr


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_output_equal_to_input(
    command: str, tokens: Path, tmp_path: Path, model: Path, capsys: Any
) -> None:
    source = tokens if command == "decode" else tmp_path / "good.wav"
    before = source.read_bytes()
    code, _, err = cli(capsys, command, source, "-o", source, "-m", model)
    assert code == 2
    assert f"the output is the input {source}" in one_error(err)
    assert source.read_bytes() == before


def test_resume_with_other_k_says_what_differs(
    tokens: Path, tmp_path: Path, model: Path, capsys: Any
) -> None:
    before = tokens.read_bytes()
    wav = tmp_path / "good.wav"
    code, _, err = cli(capsys, "encode", wav, "-o", tokens, "-k", 2, "-m", model)
    assert code == 1
    line = one_error(err)
    assert "K=4 codebooks, not the 2 asked for" in line and "--force" in line
    assert "not made by this model" not in line
    assert tokens.read_bytes() == before


def test_raw_channels_zero_is_a_usage_error(model: Path, capsys: Any) -> None:
    code, _, err = cli(capsys, "stream", "-", "--raw-rate", 16000, "--raw-channels", 0)
    assert code == 2 and "--raw-channels" in err and "too short" not in err


@pytest.mark.parametrize(
    ("name", "data"), [("x.opus", b"OggS" + bytes(100)), ("notes.txt", b"hello\n")]
)
def test_info_on_a_file_of_no_known_kind(
    name: str, data: bytes, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = cli(capsys, "info", path)
    assert code == 1 and not out
    line = one_error(err)
    assert "not a model" not in line and "info describes a model" in line and ".wav" in line


def test_info_describes_readable_audio_of_any_suffix(tmp_path: Path, capsys: Any) -> None:
    wav = write(tmp_path / "a.wav")
    path = wav.rename(tmp_path / "a.audio")
    code, out, err = cli(capsys, "info", path)
    assert code == 0 and "audio, 16000 Hz" in out and not err


@pytest.mark.parametrize("content", [b"hello, I am a text file\n", b""])
def test_text_ckpt_is_not_a_checkpoint(
    content: bytes, tmp_path: Path, model: Path, capsys: Any
) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(model / "config.json", run / "config.json")
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(content)
    wav = write(tmp_path / "a.wav")
    for args, expected in ((["info", ckpt], 1), (["encode", wav, "-o", tmp_path / "o"], 2)):
        code, _, err = cli(capsys, *args, "-m", ckpt) if args[0] == "encode" else cli(capsys, *args)
        assert code == expected
        line = one_error(err)
        assert "not a checkpoint" in line and "weights_only" not in line
    assert ckpt.read_bytes() == content and not (tmp_path / "o").exists()


def test_pickled_objects_are_refused_without_advice(
    tmp_path: Path, model: Path, capsys: Any
) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(model / "config.json", run / "config.json")
    ckpt = run / "checkpoints" / "last.ckpt"
    torch.save({"state_dict": {}, "obj": Path("x")}, ckpt)
    code, _, err = cli(capsys, "info", ckpt)
    assert code == 1
    line = one_error(err)
    assert "weights_only" not in line and "could run code" in line


@pytest.mark.parametrize("command", ["roundtrip", "stream"])
def test_temp_file_errors_name_the_output(
    command: str, tmp_path: Path, model: Path, capsys: Any
) -> None:
    wav = write(tmp_path / "a.wav")
    out = tmp_path / "taken.wav"
    (out / "inside").mkdir(parents=True)  # a folder where the output file should go
    code, _, err = cli(capsys, command, wav, "-o", out, "--force", "-m", model)
    assert code == 1
    line = one_error(err)
    assert str(out) in line and ".tmp" not in line
    assert (out / "inside").is_dir() and not list(tmp_path.glob(".*"))


def test_clashing_outputs_fail_only_those_inputs(tmp_path: Path, model: Path, capsys: Any) -> None:
    first, second = write(tmp_path / "a" / "x.wav"), write(tmp_path / "b" / "x.wav", seed=1)
    other = write(tmp_path / "c" / "y.wav")
    out = tmp_path / "out"
    code, _, err = cli(capsys, "encode", first, second, other, "-o", out, "-m", model)
    assert code == 1
    lines = errors(err)
    assert len(lines) == 2  # one per input left out
    assert lines[0].startswith(f"error: {first}: 2 inputs would write {out / 'x.tok'}")
    assert lines[1].startswith(f"error: {second}: ")
    assert (out / "y.tok").is_file() and not (out / "x.tok").exists()
    assert "failed 2" in err
