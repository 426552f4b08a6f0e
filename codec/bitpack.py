"""Codes stored at their information content: pure numpy, no Python loop per code.

A sequence of ``N`` codes in ``[0, size)`` is cut into words of ``n = codes_per_word``
consecutive codes; a word is the mixed-radix number ``c0 + c1 * size + c2 * size**2 + ...`` and
takes ``word_bits = ceil(log2(size**n))`` bits. The last ``N mod n`` codes form one shorter
word of ``ceil(log2(size**r))`` bits. Words follow each other in one little-endian bit
stream (bit ``j`` of the stream is bit ``j % 8`` of byte ``j // 8``; a word's least
significant bit comes first), and the last byte is padded with zero bits.

For a power-of-two size ``n`` is 1, so a 1024-code book is plain 10-bit packing. For other
sizes (FSQ grids such as 5**4 = 625) a word of several codes wastes less than one bit in all,
instead of up to one bit per code: 625 codes take 9.33 bits each (28 bits per 3 codes)
where plain packing would take 10 (their information content is 9.29 bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["MAX_WORD_BITS", "Packing", "PackingError", "pack_codes", "unpack_codes"]

MAX_WORD_BITS = 64
"""Words are computed in uint64."""
_CHUNK_WORDS = 1 << 16
"""Words packed or unpacked at a time (a multiple of 8, so that chunks meet at byte edges)."""


class PackingError(ValueError):
    """Packed bytes that cannot hold codes of this packing (wrong length, stray bits, codes
    outside the codebook)."""


def _bits(values: int) -> int:
    """Bits of the numbers ``0 .. values - 1``: ``ceil(log2(values))`` (0 for one value)."""
    return (values - 1).bit_length()


@dataclass(frozen=True)
class Packing:
    """How codes of a ``codebook_size`` book are packed: ``codes_per_word`` codes per word of
    ``word_bits`` bits."""

    codebook_size: int
    codes_per_word: int
    word_bits: int

    def __post_init__(self) -> None:
        size, n, bits = self.codebook_size, self.codes_per_word, self.word_bits
        if not (_is_int(size) and _is_int(n) and _is_int(bits)):
            raise PackingError(f"packing fields must be integers, got {size!r}, {n!r}, {bits!r}")
        # bounds first: size**n of a forged n = 10**9 would take minutes and gigabytes
        limits = size >= 1 and 1 <= n <= MAX_WORD_BITS and 0 <= bits <= MAX_WORD_BITS
        if not limits or _bits(size**n) > bits:
            raise PackingError(
                f"{n} code(s) of a {size}-code book do not fit a word of {bits} bits "
                f"(words hold 1 to {MAX_WORD_BITS} codes in at most {MAX_WORD_BITS} bits)"
            )

    @classmethod
    def for_codebook(cls, codebook_size: int) -> Packing:
        """The fewest bits per code for this size (ties: fewer codes per word)."""
        if not _is_int(codebook_size) or codebook_size < 1:
            raise PackingError(f"codebook_size must be a positive integer, got {codebook_size!r}")
        best = _codes_per_word(codebook_size)
        return cls(codebook_size, best, _bits(codebook_size**best))

    @property
    def bits_per_code(self) -> float:
        """Bits per code in whole words (the tail word aside)."""
        return self.word_bits / self.codes_per_word

    def payload_bits(self, count: int) -> int:
        """Bits of ``count`` packed codes, before padding to whole bytes."""
        words, rest = divmod(count, self.codes_per_word)
        return words * self.word_bits + _bits(self.codebook_size**rest)

    def payload_bytes(self, count: int) -> int:
        return -(-self.payload_bits(count) // 8)


@cache
def _codes_per_word(size: int) -> int:
    best = 1
    for n in range(2, MAX_WORD_BITS + 1):
        if _bits(size**n) > MAX_WORD_BITS:
            break
        if _bits(size**n) * best < _bits(size**best) * n:
            best = n
    return best


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _word_dtype(bits: int) -> np.dtype:
    """Smallest little-endian unsigned type with at least ``bits`` bits."""
    for dtype in ("<u1", "<u2", "<u4"):
        if bits <= 8 * np.dtype(dtype).itemsize:
            return np.dtype(dtype)
    return np.dtype("<u8")


def _to_words(codes: np.ndarray, size: int, n: int) -> np.ndarray:
    """Codes [M, n] -> words [M] (uint64), most significant code last (Horner's rule)."""
    words = codes[:, n - 1].astype(np.uint64)
    for i in range(n - 2, -1, -1):
        words = words * np.uint64(size) + codes[:, i]
    return words


def _word_bits(words: np.ndarray, bits: int) -> np.ndarray:
    """Words [M] -> their low ``bits`` bits [M * bits] (uint8 0/1), least significant first."""
    dtype = _word_dtype(bits)
    # flat (un)packbits: numpy's axis=1 variants are ~50x slower on narrow rows
    planes = np.unpackbits(words.astype(dtype).view(np.uint8), bitorder="little")
    return planes.reshape(len(words), 8 * dtype.itemsize)[:, :bits].reshape(-1)


def _pack_chunk(codes: np.ndarray, packing: Packing) -> np.ndarray:
    """Codes [N] (whole words, then at most one tail word) -> their bits [payload_bits(N)]."""
    n, size = packing.codes_per_word, packing.codebook_size
    whole = codes.size - codes.size % n
    flat = codes.astype(np.uint64)
    streams = [_word_bits(_to_words(flat[:whole].reshape(-1, n), size, n), packing.word_bits)]
    if whole < codes.size:
        tail = _to_words(flat[whole:].reshape(1, -1), size, codes.size - whole)
        streams.append(_word_bits(tail, _bits(size ** (codes.size - whole))))
    return np.concatenate(streams)


def pack_codes(codes: np.ndarray, packing: Packing) -> bytes:
    """Codes (any shape, flattened in C order; every value in ``[0, codebook_size)``) -> the
    packed bytes (``packing.payload_bytes(codes.size)`` of them)."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= packing.codebook_size):
        bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
        raise PackingError(f"code {bad} is outside a {packing.codebook_size}-code book")
    # chunks of a multiple of 8 words end on a byte boundary, and bound the temporaries
    # (about 50 bytes per code) for hours-long files
    step = _CHUNK_WORDS * packing.codes_per_word
    return b"".join(
        np.packbits(_pack_chunk(flat[i : i + step], packing), bitorder="little").tobytes()
        for i in range(0, flat.size, step)
    )


def _read_words(bits: np.ndarray, count: int, width: int) -> np.ndarray:
    """``count`` words of ``width`` bits from a bit array [count * width] -> uint64 [count]."""
    dtype = _word_dtype(width)
    planes = np.zeros((count, 8 * dtype.itemsize), dtype=np.uint8)
    planes[:, :width] = bits.reshape(count, width)
    packed = np.packbits(planes.reshape(-1), bitorder="little")
    return packed.view(dtype).astype(np.uint64)


def _to_codes(words: np.ndarray, size: int, n: int) -> np.ndarray:
    """Words [M] -> codes [M * n] (uint64); PackingError unless every word is below
    ``size**n`` (every code inside the codebook)."""
    if size**n < 2**64 and words.size and int(words.max()) >= size**n:
        raise PackingError(f"packed codes hold codes outside the codebook ({size} codes)")
    codes = np.empty((len(words), n), dtype=np.uint64)
    for i in range(n - 1):
        words, codes[:, i] = np.divmod(words, np.uint64(size))
    codes[:, n - 1] = words
    return codes.reshape(-1)


def _unpack_chunk(data: bytes, count: int, packing: Packing) -> np.ndarray:
    """The bits of ``data`` -> ``count`` codes (uint64): whole words, then one tail word."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    n, size, width = packing.codes_per_word, packing.codebook_size, packing.word_bits
    words, rest = divmod(count, n)
    codes = _to_codes(_read_words(bits[: words * width], words, width), size, n)
    if not rest:
        return codes
    tail = bits[words * width : packing.payload_bits(count)]
    return np.concatenate([codes, _to_codes(_read_words(tail, 1, tail.size), size, rest)])


def unpack_codes(data: bytes, count: int, packing: Packing) -> np.ndarray:
    """The ``count`` codes packed in ``data``, flat, in the smallest unsigned type that holds
    them. PackingError (one line) when ``data`` has the wrong length, non-zero padding bits, or
    a word holds a code outside the codebook."""
    expected = packing.payload_bytes(count)
    if len(data) != expected:
        raise PackingError(
            f"packed codes are truncated or padded: {len(data)} bytes, expected {expected}"
        )
    used = packing.payload_bits(count) - 8 * (expected - 1)  # bits of the last byte in use
    if expected and data[-1] >> used:
        raise PackingError("packed codes end in padding bits that are not zero")
    out = np.empty(count, dtype=_word_dtype(_bits(packing.codebook_size)))
    step = _CHUNK_WORDS * packing.codes_per_word  # codes per chunk; whole bytes each
    for start in range(0, count, step):
        stop = min(start + step, count)
        first = packing.payload_bits(start) // 8
        last = packing.payload_bytes(stop)
        out[start:stop] = _unpack_chunk(data[first:last], stop - start, packing)
    return out
