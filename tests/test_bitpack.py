"""Bit packing of codes: round trips over random shapes and sizes, the documented bit layout
(checked against a big-integer reference), the bits per code, and refused payloads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.bitpack import Packing, PackingError, pack_codes, unpack_codes


def reference_pack(codes: list[int], packing: Packing) -> bytes:
    """The layout of ``codec.bitpack``'s docstring, written with Python integers and strings."""
    size, n = packing.codebook_size, packing.codes_per_word
    bits = []  # each word's bits, least significant first
    for start in range(0, len(codes), n):
        chunk = codes[start : start + n]
        word = sum(c * size**i for i, c in enumerate(chunk))
        width = packing.word_bits if len(chunk) == n else (size ** len(chunk) - 1).bit_length()
        bits.append(format(word, f"0{width}b")[::-1] if width else "")
    stream = "".join(bits)
    return int(stream[::-1] or "0", 2).to_bytes(-(-len(stream) // 8), "little")


@st.composite
def code_arrays(draw: st.DrawFn, max_size: int = 65536) -> tuple[np.ndarray, int]:
    size = draw(st.integers(1, max_size))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**32 - 1))
    codes = np.random.default_rng(seed).integers(0, size, shape, dtype=np.int64)
    if codes.size and draw(st.booleans()):  # the extremes of the book
        codes.reshape(-1)[draw(st.integers(0, codes.size - 1))] = size - 1
    return codes, size


@settings(max_examples=300, deadline=None)
@given(code_arrays())
def test_round_trip_any_shape_and_size(case: tuple[np.ndarray, int]) -> None:
    codes, size = case
    packing = Packing.for_codebook(size)
    data = pack_codes(codes, packing)
    assert len(data) == packing.payload_bytes(codes.size)
    back = unpack_codes(data, codes.size, packing)
    assert np.array_equal(back.reshape(codes.shape), codes)


@settings(max_examples=200, deadline=None)
@given(code_arrays(max_size=2**32))
def test_layout_is_the_documented_one(case: tuple[np.ndarray, int]) -> None:
    """Byte for byte what the module docstring describes (so other readers can rely on it),
    up to 32-bit codebooks, partial trailing bytes and tail words included."""
    codes, size = case
    packing = Packing.for_codebook(size)
    assert pack_codes(codes, packing) == reference_pack(codes.reshape(-1).tolist(), packing)


@pytest.mark.parametrize(("size", "count"), [(1024, 70_001), (625, 200_000), (3, 2_000_000)])
def test_long_inputs_pack_in_chunks_that_meet_at_byte_edges(size: int, count: int) -> None:
    """Packing runs 65536 words at a time (bounded memory for hours of codes); the chunks join
    into the same stream as one piece."""
    codes = np.random.default_rng(size).integers(0, size, count)
    packing = Packing.for_codebook(size)
    data = pack_codes(codes, packing)
    assert data == reference_pack(codes.tolist(), packing)
    assert np.array_equal(unpack_codes(data, count, packing), codes)


@pytest.mark.parametrize("bits", range(0, 33))
def test_power_of_two_books_take_their_bits_exactly(bits: int) -> None:
    """10 bits per code of a 1024-code book: 1.6x fewer than the uint16 of format version 2."""
    packing = Packing.for_codebook(2**bits)
    assert (packing.codes_per_word, packing.word_bits) == (1, bits)
    assert packing.payload_bits(12 * 3000) == 12 * 3000 * bits


@pytest.mark.parametrize("size", [3, 5, 6, 7, 100, 240, 625, 1000, 4375, 64000, 2**32 - 1])
def test_other_books_lose_under_one_bit_per_word(size: int) -> None:
    """FSQ grids (8*5*5*5 = 1000, 5**4 = 625, 7*5**4 = 4375) are not powers of two: several codes
    share a word, so a code costs less than ``log2(size) + 1 / codes_per_word`` bits."""
    packing = Packing.for_codebook(size)
    info = math.log2(size)
    assert info <= packing.bits_per_code < info + 1 / packing.codes_per_word
    assert packing.bits_per_code <= math.ceil(info)  # never worse than one code per word
    assert packing.word_bits <= 64


def test_fsq_625_packs_three_codes_in_28_bits() -> None:
    packing = Packing.for_codebook(625)
    assert (packing.codes_per_word, packing.word_bits) == (3, 28)
    assert packing.payload_bits(7) == 2 * 28 + 10  # the last code alone: 10 bits
    codes = np.array([624, 0, 1, 2, 3, 4, 624])
    assert np.array_equal(unpack_codes(pack_codes(codes, packing), 7, packing), codes)


def test_wrong_length_is_refused() -> None:
    packing = Packing.for_codebook(1024)
    data = pack_codes(np.arange(9), packing)  # 90 bits: 12 bytes, 6 padding bits
    for bad in (data[:-1], data + b"\0", b""):
        with pytest.raises(PackingError, match=r"truncated or padded: \d+ bytes, expected 12"):
            unpack_codes(bad, 9, packing)


def test_stray_padding_bits_are_refused() -> None:
    packing = Packing.for_codebook(1024)
    data = bytearray(pack_codes(np.arange(9), packing))
    data[-1] |= 0x80
    with pytest.raises(PackingError, match="padding bits"):
        unpack_codes(bytes(data), 9, packing)


@pytest.mark.parametrize(("size", "count"), [(1000, 4), (625, 6), (625, 7), (3, 40)])
def test_words_beyond_the_book_are_refused(size: int, count: int) -> None:
    """A 10-bit word can say 1023 in a 1000-code book: every code is checked on reading."""
    packing = Packing.for_codebook(size)
    data = bytearray(pack_codes(np.zeros(count, dtype=np.int64), packing))
    total = packing.payload_bits(count)
    last = total - packing.payload_bits(
        count - (count % packing.codes_per_word or packing.codes_per_word)
    )
    for bit in range(total - last, total):
        data[bit // 8] |= 1 << (bit % 8)  # the last word (whole or tail): all ones
    with pytest.raises(PackingError, match="outside the codebook"):
        unpack_codes(bytes(data), count, packing)


def test_codes_outside_the_book_are_not_packed() -> None:
    with pytest.raises(PackingError, match="1024 is outside a 1024-code book"):
        pack_codes(np.array([1, 1024]), Packing.for_codebook(1024))


@pytest.mark.parametrize(
    ("size", "n", "bits"),
    [(1024, 1, 9), (1024, 2, 19), (0, 1, 0), (3, 41, 64), (2, 1, 65), (1024, 10**9, 64)],
)
def test_impossible_packings_are_refused(size: int, n: int, bits: int) -> None:
    """Refused at once (a forged header's ``10**9`` codes per word is never raised to)."""
    with pytest.raises(PackingError, match="do not fit a word"):
        Packing(size, n, bits)


def test_a_one_code_book_takes_no_bits() -> None:
    packing = Packing.for_codebook(1)
    assert pack_codes(np.zeros((2, 3, 5), dtype=np.int64), packing) == b""
    assert unpack_codes(b"", 30, packing).tolist() == [0] * 30
