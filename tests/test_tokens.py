import struct
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from codec.tokens import MAGIC, Tokens, TokensFormatError


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


@pytest.mark.parametrize("codebook_size", [2, 256, 1024, 70000])
def test_round_trip(tmp_path: Path, codebook_size: int) -> None:
    tokens = make_tokens(codebook_size)
    path = tmp_path / "x.tok"
    tokens.save(path)
    back = Tokens.load(path)
    assert torch.equal(back.codes, tokens.codes)
    assert torch.equal(back.lengths, tokens.lengths)
    assert torch.equal(back.num_samples, tokens.num_samples)
    assert (
        replace(back, codes=tokens.codes, lengths=tokens.lengths, num_samples=tokens.num_samples)
        == tokens
    )


def test_smallest_dtype() -> None:
    small = make_tokens(256).to_bytes()
    large = make_tokens(1024).to_bytes()
    payload = 3 * 4 * 11
    assert len(large) - len(small) == pytest.approx(payload, abs=8)


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
    assert torch.equal(Tokens.from_bytes(tokens.to_bytes()).codes, tokens.codes)
    minute = replace(
        tokens,
        codes=torch.zeros(1, 12, 3000, dtype=torch.long),
        lengths=torch.tensor([3000]),
        num_samples=torch.tensor([960000]),
        groups=1,
    )
    assert minute.codes.nbytes == 3000 * 12 * dtype.itemsize
