"""Checks of an audio file before encoding: truncated WAV data, conversions it needs."""

from __future__ import annotations

from pathlib import Path

from codec.audio.files import AudioInfo

__all__ = ["conversion_notices", "wav_truncation"]


def wav_truncation(path: Path) -> str | None:
    """A message when a RIFF/WAVE file holds fewer data bytes than its header declares
    (libsndfile silently reads what is there); None otherwise or when unknown (size 0 or
    0xFFFFFFFF, as streaming writers leave it)."""
    if path.suffix.lower() != ".wav":
        return None
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(12)[8:12] != b"WAVE":
            return None
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return None
            declared = int.from_bytes(head[4:], "little")
            if head[:4] == b"data":
                have = size - handle.tell()
                if 0 < declared < 0xFFFFFFFF and have < declared:
                    return f"truncated: header declares {declared} data bytes, file holds {have}"
                return None
            handle.seek(declared + (declared & 1), 1)


def conversion_notices(info: AudioInfo, sample_rate: int, channels: int) -> list[tuple[str, str]]:
    """``(kind, message)`` for each conversion a file needs to reach the model's format."""
    notes: list[tuple[str, str]] = []
    if info.sample_rate != sample_rate:
        notes.append(
            (f"rate{info.sample_rate}", f"resampling {info.sample_rate} -> {sample_rate} Hz")
        )
    if info.channels != channels:
        what = "mono" if channels == 1 else f"{channels} channels"
        notes.append((f"ch{info.channels}", f"mixing {info.channels} channels to {what}"))
    if info.subtype not in ("PCM_16", "FLOAT"):
        notes.append((f"fmt{info.subtype}", f"converting {info.subtype} samples to float"))
    return notes
