"""``codec encode`` -> ``decode`` and ``codec roundtrip`` on one file."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from codec.tokens import Tokens

from .conftest import cli, offline, write


def test_encode_decode_roundtrip(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    wav = write(tmp_path / "a.wav", 1234)
    code, _, _ = cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "--model", models["causal"])
    assert code == 0
    tokens = Tokens.load(tmp_path / "a.tok")
    assert torch.equal(tokens.codes, offline(models["causal"], wav).codes)
    assert tokens.num_samples.tolist() == [1234]

    code, _, _ = cli(
        capsys, "decode", tmp_path / "a.tok", "-o", tmp_path / "d.wav", "-m", models["causal"]
    )
    assert code == 0
    assert sf.info(str(tmp_path / "d.wav")).frames == 1234

    code, out, _ = cli(
        capsys, "roundtrip", wav, "-o", tmp_path / "r.wav", "-m", models["causal"], "-k", "2"
    )
    assert code == 0
    assert "kbps" in out and "SI-SDR" in out and "mel distance" in out
    assert sf.info(str(tmp_path / "r.wav")).frames == 1234


def test_roundtrip_bitrate_is_measured_on_the_token_file(
    tmp_path: Path, models: dict[str, Path], capsys
) -> None:
    """2 codebooks of 32 codes at 2000 frames/s: 20 kbps, and a .tok holds 20 kbps of codes."""
    wav = write(tmp_path / "a.wav", 1600)
    code, out, _ = cli(
        capsys, "roundtrip", wav, "-o", tmp_path / "r.wav", "-m", models["causal"], "-k", "2"
    )
    assert code == 0 and "20 kbps nominal, 20 kbps in a .tok's codes" in out, out
