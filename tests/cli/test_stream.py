"""``codec stream``: files and raw stdin PCM give the offline tokens."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import soundfile as sf

from .conftest import SR, cli, offline, write


def test_stream_equals_offline(
    tmp_path: Path, models: dict[str, Path], capsys, monkeypatch
) -> None:
    wav = write(tmp_path / "a.wav", 2345)
    expected = offline(models["causal"], wav).to_bytes()
    args = ["stream", wav, "-o", tmp_path / "s.wav", "--tokens", tmp_path / "s.tok"]
    code, out, _ = cli(capsys, *args, "-m", models["causal"], "--chunk-ms", "7")
    assert code == 0 and "p50" in out and "p95" in out and "real-time factor" in out
    assert (tmp_path / "s.tok").read_bytes() == expected
    assert sf.info(str(tmp_path / "s.wav")).frames == 2345

    pcm, _ = sf.read(str(wav), dtype="int16")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm.astype("<i2").tobytes())))
    args = [
        "stream",
        "-",
        "--raw-rate",
        SR,
        "--tokens",
        tmp_path / "raw.tok",
        "-m",
        models["causal"],
    ]
    assert cli(capsys, *args)[0] == 0
    assert (tmp_path / "raw.tok").read_bytes() == expected

    code, _, err = cli(
        capsys, "stream", wav, "--tokens", tmp_path / "x.tok", "-m", models["noncausal"]
    )
    assert code == 2 and "non-causal" in err
    code, _, err = cli(
        capsys, "stream", "-", "--tokens", tmp_path / "x.tok", "-m", models["causal"]
    )
    assert code == 2 and "--raw-rate" in err
