"""Screening a data set once, before training: which files can give training audio.

A file is skipped when it is missing or unreadable, holds no samples, is shorter than
``min_seconds``, or (float WAV/FLAC only: integer PCM cannot hold them) has NaN or infinite
samples. Headers are read for every file; samples only for float files, so screening a large
corpus costs about one ``stat`` and one header read per file. Silent files are still found
later, when loaded (``AudioDatasetBase.skipped``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import soundfile as sf

from codec.audio import AudioError, audio_info
from codec.data.manifest import AudioRecord

__all__ = ["REASONS", "Screened", "screen_records"]

REASONS = {
    "unreadable": "missing or unreadable",
    "empty": "empty",
    "nan_inf": "NaN/inf samples",
    "too_short": "shorter than",
}
"""Why a file is skipped -> how the summary line says it."""

_BLOCK = 1 << 16  # samples per channel read at a time when checking float files


class Screened(NamedTuple):
    """The usable records, and how many files were skipped for each reason of :data:`REASONS`."""

    usable: list[AudioRecord]
    skipped: Counter[str]

    def summary(self, min_seconds: float) -> str:
        """``"2 empty, 1 shorter than 1 s"``: the skipped counts, in :data:`REASONS` order."""
        parts = []
        for reason, label in REASONS.items():
            if self.skipped[reason] > 0:
                extra = f" {min_seconds:g} s" if reason == "too_short" else ""
                parts.append(f"{self.skipped[reason]} {label}{extra}")
        return ", ".join(parts)


def screen_records(records: Sequence[AudioRecord], min_seconds: float = 0.0) -> Screened:
    """Split ``records`` into usable ones and counts of skipped files by reason."""
    usable: list[AudioRecord] = []
    skipped: Counter[str] = Counter()
    for record in records:
        reason = _problem(record, min_seconds)
        if reason is None:
            usable.append(record)
        else:
            skipped[reason] += 1
    return Screened(usable, skipped)


def _problem(record: AudioRecord, min_seconds: float) -> str | None:
    """The reason ``record`` cannot be used, or ``None``."""
    try:
        info = audio_info(record.path)
    except AudioError:
        return "unreadable"
    if info.frames <= 0:
        return "empty"
    if info.duration < min_seconds:
        return "too_short"
    if info.subtype.startswith(("FLOAT", "DOUBLE")):
        try:
            for block in sf.blocks(str(record.path), blocksize=_BLOCK, dtype="float32"):
                if not np.isfinite(block).all():
                    return "nan_inf"
        except (RuntimeError, sf.LibsndfileError):
            return "unreadable"
    return None
