"""Damaged, forged, foreign and old token files: ``codec decode`` exits 1 with one ``error:``
line naming the file, writes nothing and overwrites nothing (even with ``--force``); the
``Tokens`` API refuses inconsistent fields with one line naming the field."""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from codec.tokens import Tokens, TokensFormatError
from tests.cli.conftest import cli

from .helpers import build, edit, one_error, parts, snapshot, unchanged


def _digit(path: Path) -> None:
    """One digit of num_samples changed in place (2000 -> 1000 samples), checksum left."""
    data = path.read_bytes()
    assert data.count(b'"num_samples": [2000]') == 1
    path.write_bytes(data.replace(b'"num_samples": [2000]', b'"num_samples": [1000]'))


def _set(**fields: Any) -> Callable[[Path], None]:
    """A forged header: ``fields`` set, every checksum recomputed."""
    return lambda path: edit(path, lambda h: h.update(fields))


def _code(value: int) -> Callable[[Path], None]:
    """The first payload byte set to ``value`` in the version-2 layout (one byte per code of
    the 32-code test model), checksum fixed. Version 3 packs them in 5 bits, none out of range."""

    def damage(path: Path) -> None:
        header, payload, version = parts(_as_v2(path).read_bytes())
        data = bytearray(payload)
        data[0] = value
        header["crc32"] = zlib.crc32(bytes(data))
        path.write_bytes(build(header, bytes(data), version))

    return damage


def _as_v2(path: Path) -> Path:
    path.write_bytes(Tokens.load(path).to_bytes(version=2))
    return path


def _version(version: int) -> Callable[[Path], None]:
    """The version byte changed, nothing else (the header checksum covers the header only)."""
    return lambda path: path.write_bytes(
        path.read_bytes()[:4] + bytes([version]) + path.read_bytes()[5:]
    )


def _flip(offset: int) -> Callable[[Path], None]:
    """One payload bit flipped at byte ``offset`` (the payload checksum left as it was)."""

    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x10
        path.write_bytes(bytes(data))

    return damage


def _old(**fields: Any) -> Callable[[Path], None]:
    """The version-1 layout of older releases (payload CRC only), with ``fields`` set."""
    return lambda path: edit(path, lambda h: h.update(fields), version=1)


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    # new: the header is checksummed and every field checked against the codes
    "header digit": (_digit, "header checksum mismatch"),
    "num_samples short": (_set(num_samples=[1000]), "num_samples[0]=1000"),
    "num_samples negative": (_set(num_samples=[-100]), "num_samples[0]=-100"),
    "num_samples over": (_set(num_samples=[9000]), "num_samples[0]=9000"),
    "lengths over": (_set(lengths=[300]), "lengths[0]=300"),
    "lengths zero": (_set(lengths=[0], num_samples=[0]), "lengths[0]=0"),
    "lengths negative": (_set(lengths=[-1]), "lengths[0]=-1"),
    "frame rate": (_set(frame_rate=1000.0), "num_samples[0]=2000"),
    "sample rate": (_set(sample_rate=0), "sample_rate"),
    "codebook size": (_set(codebook_size=0), "codebook_size"),
    "fingerprint": (_set(model_fingerprint="not-hex"), "model_fingerprint"),
    "no fingerprint": (lambda p: edit(p, lambda h: h.pop("model_fingerprint")), "fingerprint"),
    "old num_samples": (_old(num_samples=[1000]), "num_samples[0]=1000"),
    # already refused before: truncation, foreign or future files, codes outside the codebook
    "cut header": (lambda p: p.write_bytes(p.read_bytes()[:20]), "truncated"),
    "cut data": (lambda p: p.write_bytes(p.read_bytes()[:-10]), "truncated"),
    "magic": (lambda p: p.write_bytes(b"RIFF" + p.read_bytes()[4:]), "bad magic"),
    "future": (lambda p: p.write_bytes(b"CDTK\x04" + p.read_bytes()[5:]), "version 4"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps({"codes": [1, 2]})), "not a token file"),
    "code range": (_code(40), "outside the codebook"),
    # format version 3: bit-packed codes
    "cut last byte": (lambda p: p.write_bytes(p.read_bytes()[:-1]), "truncated"),
    "extra byte": (lambda p: p.write_bytes(p.read_bytes() + b"\0"), "padded"),
    "payload bit": (_flip(-1), "checksum mismatch"),
    "word bits": (_set(word_bits=4), "do not fit a word of 4 bits"),
    "wider words": (_set(word_bits=6), "truncated or padded"),
    "codes per word": (_set(codes_per_word=2), "do not fit a word of 5 bits"),
    "no packing": (lambda p: edit(p, lambda h: h.pop("word_bits")), "'word_bits' missing"),
    "marked v2": (_version(2), "'dtype' missing"),
    "v2 marked v3": (lambda p: _version(3)(_as_v2(p)), "'codes_per_word' missing"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_decode_refuses_bad_token_file(
    case: str, tok: Path, twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    damage, words = DAMAGE[case]
    damage(tok)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").write_bytes(b"an earlier output")
    before, inputs = snapshot(out), tok.read_bytes()
    code, _, err = cli(capsys, "decode", tok, "-o", out / "a.wav", "-m", twins["a"], "--force")
    assert code == 1, err
    one_error(err, "a.tok", words)
    unchanged(out, before)
    assert tok.read_bytes() == inputs


def test_old_token_files_still_decode(
    tok: Path, twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Format version 1 (no header checksum, no fingerprint) loads and decodes."""
    new = Tokens.load(tok)
    _old()(tok)
    assert tok.read_bytes()[4] == 1
    old = Tokens.load(tok)
    assert torch.equal(old.codes, new.codes) and old.model_fingerprint == ""
    code, _, err = cli(capsys, "decode", tok, "-o", tmp_path / "a.wav", "-m", twins["a"])
    assert code == 0 and "error" not in err
    assert (tmp_path / "a.wav").stat().st_size > 0


def _tokens(**fields: Any) -> Tokens:
    base: dict[str, Any] = {
        "codes": torch.zeros(1, 4, 10, dtype=torch.long),
        "lengths": torch.tensor([10]),
        "num_samples": torch.tensor([3200]),
        "sample_rate": 16000,
        "frame_rate": 50.0,
        "codebook_size": 1024,
        "groups": 2,
        "model_id": "m",
    }
    return Tokens(**{**base, **fields})


BAD_FIELDS: dict[str, dict[str, Any]] = {
    "num_samples": {"num_samples": torch.tensor([-100])},
    "num_samples[0]=100": {"num_samples": torch.tensor([100])},
    "num_samples[0]=3201": {"num_samples": torch.tensor([3201])},
    "lengths[0]=11": {"lengths": torch.tensor([11])},
    "lengths[0]=0": {"lengths": torch.tensor([0]), "num_samples": torch.tensor([0])},
    "lengths must be integers": {"lengths": torch.tensor([10.0])},
    "sample_rate": {"sample_rate": 0},
    "frame_rate": {"frame_rate": float("nan")},
    "codebook_size": {"codebook_size": 0},
    "groups": {"groups": 3},
    "codes out of range": {"codes": torch.full((1, 4, 10), 1024)},
    "codes must be integers": {"codes": torch.zeros(1, 4, 10)},
    "model_fingerprint": {"model_fingerprint": "ABC"},
}


@pytest.mark.parametrize("field", list(BAD_FIELDS))
def test_tokens_refuse_inconsistent_fields(field: str) -> None:
    """``Tokens(num_samples=[-100])`` used to decode to 31,900 samples."""
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")) as info:
        _tokens(**BAD_FIELDS[field])
    assert "\n" not in str(info.value)
    assert _tokens().num_frames == 10  # the base is valid


def test_load_names_the_field(tok: Path) -> None:
    _set(lengths=[300])(tok)
    with pytest.raises(TokensFormatError, match=r"a\.tok: token file is corrupt: lengths\[0\]"):
        Tokens.load(tok)


def test_streaming_steps_may_be_empty() -> None:
    """Zero frames are fine when the codes hold zero frames (an ``encode_chunk`` step)."""
    empty = _tokens(
        codes=torch.zeros(1, 4, 0, dtype=torch.long),
        lengths=torch.tensor([0]),
        num_samples=torch.tensor([0]),
    )
    assert replace(empty).num_frames == 0


def test_version_2_file_of_the_last_release_decodes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``tests/data/speech_v2.tok`` (written by the shipped model in format version 2, as the
    release before version 3 wrote it) decodes with the shipped model, its fingerprint
    accepted."""
    old = Path(__file__).parents[1] / "data" / "speech_v2.tok"
    code, _, err = cli(capsys, "decode", old, "-o", tmp_path / "a.wav")
    assert code == 0 and "error" not in err
    assert (tmp_path / "a.wav").stat().st_size > 2 * 24000
