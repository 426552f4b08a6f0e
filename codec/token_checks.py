"""Checks of :class:`~codec.tokens.Tokens` fields (one-line ValueErrors naming the field) and
of a token file's prefix and JSON header (one-line TokensFormatErrors)."""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from codec.tokens import Tokens

__all__ = [
    "MAGIC",
    "PREFIXES",
    "READ_VERSIONS",
    "FileParts",
    "SourceStamp",
    "TokensFormatError",
    "check_code_range",
    "check_fields",
    "check_header",
    "check_lengths",
    "code_dtype",
    "is_int",
    "shape_of",
    "split_file",
]

_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")

MAGIC = b"CDTK"
READ_VERSIONS = (1, 2, 3)
_START = struct.Struct("<4sB")
PREFIXES = {
    1: struct.Struct("<4sBI"),
    2: struct.Struct("<4sBII"),
    3: struct.Struct("<4sBII"),
}
"""magic, version, header length (uint32) and, from version 2, the header's CRC32."""
_MAX_HEADER = 1 << 20


class TokensFormatError(ValueError):
    """A token file is corrupt, truncated, foreign or of an unsupported version."""


@dataclass(frozen=True)
class SourceStamp:
    """Which audio file tokens were made from: its name, size (bytes) and mtime (ns)."""

    name: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> SourceStamp:
        stat = path.stat()
        return cls(path.name, int(stat.st_size), int(stat.st_mtime_ns))


def shape_of(value: object) -> object:
    return tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(t: Tokens) -> None:
    """One-line ValueError naming the first bad scalar field of ``t``."""
    if not is_int(t.sample_rate) or t.sample_rate < 1:
        raise ValueError(f"sample_rate must be a positive integer, got {t.sample_rate!r}")
    rate = t.frame_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        raise ValueError(f"frame_rate must be a finite number, got {rate!r}")
    if not 0 < rate <= t.sample_rate:
        raise ValueError(f"frame_rate must be in (0, sample_rate={t.sample_rate}], got {rate!r}")
    if not is_int(t.codebook_size) or not 1 <= t.codebook_size <= 2**32:
        raise ValueError(f"codebook_size must be an integer in [1, 2**32], got {t.codebook_size!r}")
    if not is_int(t.groups):
        raise ValueError(f"groups must be an integer, got {t.groups!r}")
    if not isinstance(t.model_id, str):
        raise ValueError(f"model_id must be a string, got {t.model_id!r}")
    fp = t.model_fingerprint
    if not isinstance(fp, str) or (fp and not _FINGERPRINT.fullmatch(fp)):
        raise ValueError(f"model_fingerprint must be '' or 16-64 lowercase hex digits, got {fp!r}")
    src = t.source
    if src is not None and not (
        isinstance(src, SourceStamp)
        and isinstance(src.name, str)
        and is_int(src.size)
        and is_int(src.mtime_ns)
        and src.size >= 0
    ):
        raise ValueError(f"source must be a SourceStamp(name, size >= 0, mtime_ns), got {src!r}")


def check_code_range(codes: Tensor, codebook_size: int) -> None:
    if not codes.numel():
        return
    # uint16/uint32 have no min/max kernels in torch; widen for the check only.
    wide = codes.to(torch.int64) if codes.dtype in (torch.uint16, torch.uint32) else codes
    low, high = int(wide.min()), int(wide.max())
    if low < 0 or high >= codebook_size:
        bad = low if low < 0 else high
        raise ValueError(f"codes out of range [0, {codebook_size}): found {bad}")


def check_lengths(lengths: Tensor, num_samples: Tensor, frames: int, hop: float) -> None:
    """``lengths`` [B] in [1, frames] (0 when frames is 0); ``num_samples`` [B] within the last valid frame:
    ``(lengths - 1) * hop < num_samples <= lengths * hop``."""
    for i, (n, samples) in enumerate(zip(lengths.tolist(), num_samples.tolist())):
        least = 1 if frames else 0  # an empty item only in empty codes (a streaming step)
        if not least <= n <= frames:
            raise ValueError(f"lengths[{i}]={n} outside [{least}, {frames}] (the frames in codes)")
        high = math.floor(n * hop + 1e-6)
        low = max(0, math.floor((n - 1) * hop + 1e-6) + 1)
        if not low <= samples <= high:
            raise ValueError(
                f"num_samples[{i}]={samples} does not fit lengths[{i}]={n} frames "
                f"of {hop:g} samples (expected {low}..{high})"
            )


def code_dtype(codebook_size: int) -> np.dtype:
    """Smallest unsigned integer dtype that holds ``codebook_size - 1``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if codebook_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"codebook_size {codebook_size} is too large")


class FileParts(NamedTuple):
    """A token file cut at its header: format version, parsed JSON header, payload bytes."""

    version: int
    header: dict[str, Any]
    payload: bytes


def split_file(data: bytes) -> FileParts:
    """Check the magic, version and header checksum of a token file and parse its header."""
    if len(data) < _START.size:
        raise TokensFormatError("not a token file: too short")
    magic, version = _START.unpack_from(data)
    if magic != MAGIC:
        raise TokensFormatError(f"not a token file: bad magic {magic!r}")
    if version not in READ_VERSIONS:
        raise TokensFormatError(
            f"unsupported token file version {version} (this reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}; a newer codec wrote it?)"
        )
    prefix = PREFIXES[version]
    if len(data) < prefix.size:
        raise TokensFormatError("token file is truncated: header incomplete")
    _, _, hlen, *hcrc = prefix.unpack_from(data)
    if hlen > _MAX_HEADER or prefix.size + hlen > len(data):
        raise TokensFormatError("token file is truncated: header incomplete")
    raw = data[prefix.size : prefix.size + hlen]
    if hcrc and zlib.crc32(raw) != hcrc[0]:
        raise TokensFormatError("token file is corrupt: header checksum mismatch")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokensFormatError("token file is corrupt: unreadable header") from None
    if not isinstance(header, dict):
        raise TokensFormatError("token file is corrupt: header is not an object")
    return FileParts(version, header, data[prefix.size + hlen :])


_REQUIRED = {
    "shape": list,
    "crc32": int,
    "lengths": list,
    "num_samples": list,
    "sample_rate": int,
    "frame_rate": (int, float),
    "codebook_size": int,
    "groups": int,
    "model_id": str,
}
_REQUIRED_BY_VERSION: dict[int, dict[str, Any]] = {
    1: {**_REQUIRED, "dtype": str},
    2: {**_REQUIRED, "dtype": str, "model_fingerprint": str, "source": (dict, type(None))},
    3: {
        **_REQUIRED,
        "codes_per_word": int,
        "word_bits": int,
        "model_fingerprint": str,
        "source": (dict, type(None)),
    },
}


def check_header(header: dict[str, Any], version: int) -> tuple[int, int, int]:
    """The codes' shape ``(B, K, T)`` once every field the version needs is there, of the
    right type and consistent with the others (versions 1 and 2: the payload dtype)."""
    for key, kind in _REQUIRED_BY_VERSION[version].items():
        if key not in header or not isinstance(header[key], kind):
            raise TokensFormatError(
                f"token file is corrupt: header field '{key}' missing or invalid"
            )
    shape = tuple(header["shape"])
    if len(shape) != 3 or not all(is_int(v) and v >= 0 for v in shape):
        raise TokensFormatError(f"token file is corrupt: bad shape {shape}")
    size = header["codebook_size"]
    if not 1 <= size <= 2**32:
        raise TokensFormatError(f"token file is corrupt: codebook_size {size} out of range")
    if version < 3 and header["dtype"] != code_dtype(size).name:
        raise TokensFormatError(
            f"token file is corrupt: dtype {header['dtype']!r} does not fit codebook_size {size}"
        )
    if len(header["lengths"]) != shape[0] or len(header["num_samples"]) != shape[0]:
        raise TokensFormatError("token file is corrupt: lengths do not match batch size")
    return shape  # type: ignore[return-value]
