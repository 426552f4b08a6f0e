"""Checks of :class:`~codec.tokens.Tokens` fields: one-line ValueErrors naming the field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from codec.tokens import Tokens

__all__ = ["SourceStamp", "check_code_range", "check_fields", "check_lengths", "is_int", "shape_of"]

_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")


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
