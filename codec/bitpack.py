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
    codes_per_word: int = 1
    word_bits: int = 0

    def __post_init__(self) -> None:
        size, n, bits = self.codebook_size, self.codes_per_word, self.word_bits
        if not (_is_int(size) and _is_int(n) and _is_int(bits)):
            raise PackingError(f"packing fields must be integers, got {size!r}, {n!r}, {bits!r}")
        if size < 1 or n < 1 or not _bits(size**n) <= bits <= MAX_WORD_BITS:
            raise PackingError(
                f"{n} code(s) of a {size}-code book do not fit a word of {bits} bits "
                f"(needs {_bits(max(size, 1) ** max(n, 1))}, at most {MAX_WORD_BITS})"
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


def pack_codes(codes: np.ndarray, packing: Packing) -> bytes:
    """Codes (any shape, flattened in C order; every value in ``[0, codebook_size)``) -> the
    packed bytes (``packing.payload_bytes(codes.size)`` of them)."""
    flat = np.ascontiguousarray(codes).reshape(-1).astype(np.uint64)
    if flat.size and int(flat.max()) >= packing.codebook_size:
        raise PackingError(f"code {int(flat.max())} is outside a {packing.codebook_size}-code book")
    n, size = packing.codes_per_word, packing.codebook_size
    whole = flat.size - flat.size % n
    streams = [_word_bits(_to_words(flat[:whole].reshape(-1, n), size, n), packing.word_bits)]
    rest = flat.size - whole
    if rest:
        tail = _to_words(flat[whole:].reshape(1, rest), size, rest)
        streams.append(_word_bits(tail, _bits(size**rest)))
    return np.packbits(np.concatenate(streams), bitorder="little").tobytes()


def _read_words(bits: np.ndarray, count: int, width: int) -> np.ndarray:
    """``count`` words of ``width`` bits from a bit array [count * width] -> uint64 [count]."""
    dtype = _word_dtype(width)
    planes = np.zeros((count, 8 * dtype.itemsize), dtype=np.uint8)
    planes[:, :width] = bits.reshape(count, width)
    packed = np.packbits(planes.reshape(-1), bitorder="little")
    return packed.view(dtype).astype(np.uint64)


def _to_codes(words: np.ndarray, size: int, n: int) -> np.ndarray:
    """Words [M] -> codes [M, n] (uint64); words must be below ``size**n``."""
    codes = np.empty((len(words), n), dtype=np.uint64)
    for i in range(n - 1):
        words, codes[:, i] = np.divmod(words, np.uint64(size))
    codes[:, n - 1] = words
    return codes


def unpack_codes(data: bytes, count: int, packing: Packing) -> np.ndarray:
    """The ``count`` codes packed in ``data`` (uint64 [count]). PackingError (one line) when
    ``data`` has the wrong length, non-zero padding bits, or a word holds a code outside the
    codebook."""
    total, expected = packing.payload_bits(count), packing.payload_bytes(count)
    if len(data) != expected:
        raise PackingError(
            f"packed codes are truncated or padded: {len(data)} bytes, expected {expected}"
        )
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    if bits[total:].any():
        raise PackingError("packed codes end in padding bits that are not zero")
    n, size, width = packing.codes_per_word, packing.codebook_size, packing.word_bits
    words_n, rest = divmod(count, n)
    parts = [(_read_words(bits[: words_n * width], words_n, width), n)]
    if rest:
        parts.append((_read_words(bits[words_n * width : total], 1, _bits(size**rest)), rest))
    out = []
    for words, digits in parts:
        if size**digits < 2**64 and words.size and int(words.max()) >= size**digits:
            raise PackingError(f"packed codes hold codes outside the codebook ({size} codes)")
        out.append(_to_codes(words, size, digits).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)
