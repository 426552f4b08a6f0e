"""``codec decode``: bad token files fail alone; batched token files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import soundfile as sf
import torch

from codec.model import Codec
from codec.tokens import Tokens
from tests.conftest import mode

from .conftest import SR, cli, tone, with_code, write


def test_bad_token_files(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    wav = write(tmp_path / "a.wav")
    good = tmp_path / "in" / "good.tok"
    assert cli(capsys, "encode", wav, "-o", good, "-m", models["causal"])[0] == 0
    tokens = Tokens.load(good)
    replace(tokens, codebook_size=64, model_id="other").save(tmp_path / "in" / "other.tok")
    data = bytearray(good.read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "in" / "corrupt.tok").write_bytes(bytes(data))
    (tmp_path / "in" / "cut.tok").write_bytes(good.read_bytes()[:-10])
    # out-of-range codes need the byte per code of version 2 (5 bits hold only 0..31)
    (tmp_path / "in" / "range.tok").write_bytes(with_code(tokens.to_bytes(version=2), 40))
    out = tmp_path / "out"
    code, _, err = cli(capsys, "decode", tmp_path / "in", "-o", out, "-m", models["causal"])
    assert code == 1
    assert (out / "good.wav").exists()
    for name in ["other", "corrupt", "cut", "range"]:
        assert (
            sum(name + ".tok" in line for line in err.splitlines() if line.startswith("error:"))
            == 1
        )
        assert not (out / f"{name}.wav").exists()


def test_decode_batched_token_file(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    codec = Codec.from_pretrained(models["causal"])
    batch = torch.zeros(2, 1, 700)
    batch[0] = torch.from_numpy(tone(700, 1)[:, 0])
    batch[1, :, :300] = torch.from_numpy(tone(300, 2)[:, 0])
    codec.encode(batch, SR, lengths=torch.tensor([700, 300])).save(tmp_path / "b.tok")
    assert (
        cli(capsys, "decode", tmp_path / "b.tok", "-o", tmp_path / "b.wav", "-m", models["causal"])[
            0
        ]
        == 0
    )
    assert sf.info(str(tmp_path / "b-0.wav")).frames == 700
    assert sf.info(str(tmp_path / "b-1.wav")).frames == 300


def test_decoded_audio_respects_the_umask(
    tmp_path: Path, models: dict[str, Path], capsys, umask: int
) -> None:
    wav = write(tmp_path / "a.wav")
    assert cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "-m", models["causal"])[0] == 0
    code, _, err = cli(
        capsys, "decode", tmp_path / "a.tok", "-o", tmp_path / "b.wav", "-m", models["causal"]
    )
    assert code == 0, err
    assert mode(tmp_path / "b.wav") == {0o022: 0o644, 0o077: 0o600}[umask]
