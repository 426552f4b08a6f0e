import math
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from codec.tokens import MAGIC, Tokens, TokensFormatError, payload_bytes
from tests.faults.helpers import build, parts

DATA = Path(__file__).parent / "data"


def make_tokens(codebook_size: int = 1024, groups: int = 2, k: int = 4) -> Tokens:
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, codebook_size, (3, k, 11), generator=g)
    return Tokens(
        codes=codes,
        lengths=torch.tensor([11, 7, 1]),
        num_samples=torch.tensor([3520, 2200, 100]),
        sample_rate=16000,
        frame_rate=50.0,
        codebook_size=codebook_size,
        groups=groups,
        model_id="test",
    )


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("codebook_size", [1, 2, 3, 256, 625, 1000, 1024, 70000, 2**32])
def test_round_trip(tmp_path: Path, codebook_size: int, version: int) -> None:
    tokens = make_tokens(codebook_size)
    path = tmp_path / "x.tok"
    tokens.save(path, version=version)
    assert path.read_bytes()[4] == version
    back = Tokens.load(path)
    assert torch.equal(back.codes, tokens.codes)
    assert torch.equal(back.lengths, tokens.lengths)
    assert torch.equal(back.num_samples, tokens.num_samples)
    assert (
        replace(back, codes=tokens.codes, lengths=tokens.lengths, num_samples=tokens.num_samples)
        == tokens
    )


def test_version_2_stores_the_smallest_dtype() -> None:
    small = make_tokens(256).to_bytes(version=2)
    large = make_tokens(1024).to_bytes(version=2)
    assert payload_bytes(small) == 3 * 4 * 11 and payload_bytes(large) == 2 * 3 * 4 * 11


@pytest.mark.parametrize(("size", "bits"), [(2, 1), (256, 8), (1024, 10), (65536, 16)])
def test_version_3_stores_log2_bits_per_code(size: int, bits: int) -> None:
    """Version 2 stored a 1024-code book's codes in 16 bits: a .tok of the shipped model
    measured 9.6 kbps of payload for its 6 kbps (1.8x with the header on one second)."""
    tokens = make_tokens(size)
    assert payload_bytes(tokens.to_bytes()) == math.ceil(3 * 4 * 11 * bits / 8)
    assert tokens.payload_bits() == 3 * 4 * 11 * bits


def test_payload_bitrate_is_the_nominal_one() -> None:
    """A minute of the shipped model's layout (12 x 1024 codes at 50 frames/s, 6 kbps)."""
    minute = replace(
        make_tokens(1024),
        codes=torch.randint(0, 1024, (1, 12, 3000)),
        lengths=torch.tensor([3000]),
        num_samples=torch.tensor([960000]),
        groups=1,
    )
    data = minute.to_bytes()
    assert payload_bytes(data) * 8 / minute.duration == minute.bitrate == 6000.0
    assert payload_bytes(minute.to_bytes(version=2)) * 8 / minute.duration == 9600.0


def test_committed_version_2_file_still_loads() -> None:
    """``speech_v2.tok``: the first 1.5 s of ``assets/speech/val/cs_vit__bar-v-co.flac`` encoded
    by the shipped model in format version 2 (``encode_many([wav]).to_bytes(version=2)``;
    rewritten so whenever the shipped weights change); it loads, and re-saving it as version 3
    keeps every code."""
    data = (DATA / "speech_v2.tok").read_bytes()
    assert data[4] == 2
    old = Tokens.from_bytes(data)
    assert old.codes.shape == (1, 12, 75) and old.codebook_size == 1024
    assert old.model_fingerprint == "516cc468cff8148e5e989fe860ac2286"
    new = Tokens.from_bytes(old.to_bytes())
    assert torch.equal(new.codes, old.codes) and new == replace(old, codes=new.codes)
    assert payload_bytes(old.to_bytes()) == 12 * 75 * 10 // 8 < payload_bytes(data) == 1800
    assert old.to_bytes(version=2) == data


def test_unknown_write_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"version must be one of \(2, 3\), got 1"):
        make_tokens().to_bytes(version=1)


def _forge(data: bytes, change: dict[str, object], payload: bytes | None = None) -> bytes:
    header, old, version = parts(data)
    payload = old if payload is None else payload
    return build(header | change | {"crc32": zlib.crc32(payload)}, payload, version)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"word_bits": 9}, "do not fit a word of 9 bits"),
        ({"codes_per_word": 2}, "do not fit a word of 10 bits"),
        ({"word_bits": 11}, "truncated or padded"),
        ({"word_bits": 65}, "at most 64 bits"),
        ({"codes_per_word": 10**9}, "do not fit a word"),
        ({"codes_per_word": True}, "must be integers"),
        ({"word_bits": "10"}, "'word_bits' missing or invalid"),
        ({"codes_per_word": None}, "'codes_per_word' missing or invalid"),
    ],
)
def test_forged_packing_is_refused(change: dict[str, object], words: str) -> None:
    """Headers whose checksum was recomputed after an edit of the packing fields."""
    with pytest.raises(TokensFormatError, match="token file is") as info:
        Tokens.from_bytes(_forge(make_tokens(1024).to_bytes(), change))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_packed_codes_outside_the_book_are_refused() -> None:
    """In a 1000-code book a 10-bit word can hold 1000..1023: checked on reading, even with a
    correct payload checksum."""
    data = make_tokens(1000).to_bytes()
    payload = bytearray(parts(data)[1])
    payload[0], payload[1] = 0xFF, payload[1] | 0x03  # first code: 1023
    with pytest.raises(TokensFormatError, match="outside the codebook"):
        Tokens.from_bytes(_forge(data, {}, bytes(payload)))


def test_stray_padding_bits_are_refused() -> None:
    data = make_tokens(2).to_bytes()  # 132 one-bit codes: 17 bytes, 4 padding bits
    payload = bytearray(parts(data)[1])
    assert len(payload) == 17
    payload[-1] |= 0x80
    with pytest.raises(TokensFormatError, match="padding bits"):
        Tokens.from_bytes(_forge(data, {}, bytes(payload)))


def test_no_overwrite_without_force(tmp_path: Path) -> None:
    tokens = make_tokens()
    path = tmp_path / "x.tok"
    tokens.save(path)
    with pytest.raises(FileExistsError):
        tokens.save(path)
    tokens.save(path, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["x.tok"]


def test_truncated_rejected() -> None:
    data = make_tokens().to_bytes()
    for cut in (0, 3, 8, 30, len(data) - 1):
        with pytest.raises(TokensFormatError):
            Tokens.from_bytes(data[:cut])


def test_corrupt_payload_rejected() -> None:
    data = bytearray(make_tokens().to_bytes())
    data[-5] ^= 0xFF
    with pytest.raises(TokensFormatError, match="checksum"):
        Tokens.from_bytes(bytes(data))


def test_wrong_magic_and_version_rejected() -> None:
    data = make_tokens().to_bytes()
    with pytest.raises(TokensFormatError, match="magic"):
        Tokens.from_bytes(b"RIFF" + data[4:])
    bad_version = data[:4] + struct.pack("<B", 99) + data[5:]
    with pytest.raises(TokensFormatError, match="version"):
        Tokens.from_bytes(bad_version)


def test_foreign_header_rejected() -> None:
    with pytest.raises(TokensFormatError, match="header"):
        Tokens.from_bytes(MAGIC + struct.pack("<BI", 1, 2) + b"[]")


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(TokensFormatError, match="cannot read"):
        Tokens.load(tmp_path / "nope.tok")


def test_out_of_range_codes_refused() -> None:
    tokens = make_tokens(16)
    with pytest.raises(ValueError, match="out of range"):
        replace(tokens, codes=tokens.codes.long() + 16)


def test_truncate_keeps_group_major_levels() -> None:
    tokens = make_tokens(groups=2, k=4)
    cut = tokens.truncate(2)
    assert torch.equal(cut.codes[:, 0], tokens.codes[:, 0])
    assert torch.equal(cut.codes[:, 1], tokens.codes[:, 2])
    with pytest.raises(ValueError):
        tokens.truncate(3)


def test_item_trims_to_length() -> None:
    tokens = make_tokens()
    one = tokens.item(1)
    assert one.codes.shape == (1, 4, 7)
    assert torch.equal(one.codes[0], tokens.codes[1, :, :7])


@pytest.mark.parametrize(
    ("size", "dtype"),
    [
        (256, torch.uint8),
        (1024, torch.int16),
        (32768, torch.int16),
        (32769, torch.uint16),
        (65536, torch.uint16),
        (70000, torch.int32),
    ],
)
def test_codes_kept_in_the_smallest_type(size: int, dtype: torch.dtype) -> None:
    """int64 codes were 8 bytes each: 3000 frames x 12 codebooks (a minute at 50 frames/s)
    took 288 kB, 72 kB as int16."""
    tokens = make_tokens(size)
    assert tokens.codes.dtype == dtype
    assert Tokens.from_bytes(tokens.to_bytes()).codes.dtype == dtype
    assert torch.equal(Tokens.from_bytes(tokens.to_bytes()).codes, tokens.codes)
    minute = replace(
        tokens,
        codes=torch.zeros(1, 12, 3000, dtype=torch.long),
        lengths=torch.tensor([3000]),
        num_samples=torch.tensor([960000]),
        groups=1,
    )
    assert minute.codes.nbytes == 3000 * 12 * dtype.itemsize
