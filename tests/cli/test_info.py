"""``codec info`` on a model, a token file and an audio file."""

from __future__ import annotations

from pathlib import Path

from codec.tokens import Tokens

from .conftest import cli, write


def test_info(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    code, out, _ = cli(capsys, "info", models["causal"])
    assert code == 0 and "16000 Hz" in out and "2 group(s) x 2 levels x 32 codes" in out
    wav = write(tmp_path / "a.wav", 800)
    assert cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "-m", models["causal"])[0] == 0
    code, out, _ = cli(capsys, "info", tmp_path / "a.tok")
    assert code == 0 and "tiny-test" in out and "K=4" in out and "kbps" in out and "100" in out
    code, out, _ = cli(capsys, "info", wav)
    assert code == 0 and "800 samples" in out
    (tmp_path / "bad.tok").write_bytes(b"nope")
    code, _, err = cli(capsys, "info", tmp_path / "bad.tok")
    assert code == 1 and err.startswith("error:")


def test_info_shows_the_measured_bitrate(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    """4 codebooks of 32 codes at 2000 frames/s: 40 kbps nominal, and 40 kbps of codes in the
    file (5 bits per code). Format version 2 stored a byte per code: 64 kbps."""
    wav = write(tmp_path / "a.wav", 800)
    assert cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "-m", models["causal"])[0] == 0
    code, out, _ = cli(capsys, "info", tmp_path / "a.tok")
    assert code == 0
    assert "bitrate       40 kbps nominal\n" in out
    assert "file bitrate  40 kbps of codes" in out and "(format version 3)" in out
    old = tmp_path / "old.tok"
    old.write_bytes(Tokens.load(tmp_path / "a.tok").to_bytes(version=2))
    code, out, _ = cli(capsys, "info", old)
    assert code == 0
    assert "file bitrate  64 kbps of codes" in out and "(format version 2)" in out
