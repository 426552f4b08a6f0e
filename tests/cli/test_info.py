"""``codec info`` on a model, a token file and an audio file."""

from __future__ import annotations

from pathlib import Path

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
