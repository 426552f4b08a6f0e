"""Audio in bounded memory: long files read block by block (resampled as a stream), audio
written block by block (atomically), raw PCM from a byte stream."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor

from codec.audio.files import AudioError, AudioInfo, resampled_length
from codec.fileio import atomic_path

__all__ = [
    "AUDIO_OUT",
    "open_writer",
    "output_errors",
    "raw_chunks",
    "read_blocks",
    "resample_blocks",
    "write_audio",
    "write_block",
]


AUDIO_OUT = (".wav", ".flac", ".ogg")
"""Suffixes audio can be written to."""


def read_blocks(path: Path, info: AudioInfo, target_rate: int, seconds: float) -> Iterator[Tensor]:
    """Float32 blocks ``[C, n]`` of ``path`` at ``target_rate``, resampled as a stream."""
    stream = None
    if info.sample_rate != target_rate:
        stream = soxr.ResampleStream(info.sample_rate, target_rate, info.channels, dtype="float32")
    size = max(1, int(seconds * info.sample_rate))
    taken = given = 0
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                data = handle.read(size, dtype="float32", always_2d=True)
                last = data.shape[0] < size
                taken += data.shape[0]
                if not np.isfinite(data).all():
                    raise AudioError(f"{path}: audio contains NaN or infinite samples")
                if stream is not None:
                    data = stream.resample_chunk(data, last=last)
                    if last:  # the same length as offline resampling (ceil)
                        want = resampled_length(taken, info.sample_rate, target_rate) - given
                        data = np.pad(data[:want], ((0, max(0, want - data.shape[0])), (0, 0)))
                given += data.shape[0]
                if data.shape[0]:
                    yield torch.from_numpy(np.ascontiguousarray(data.T))
                if last:
                    return
    except sf.LibsndfileError as exc:
        raise AudioError(f"{path}: unreadable audio ({exc})") from None


def write_audio(
    path: Path, blocks: Iterable[Tensor], sample_rate: int, force: bool, channels: int = 1
) -> float:
    """Write ``[C, n]`` blocks atomically as 16-bit PCM; returns the clipped fraction."""
    if path.suffix.lower() not in AUDIO_OUT:
        raise ValueError(f"unknown audio format {path.suffix!r} (use {', '.join(AUDIO_OUT)})")
    clipped = count = 0
    with output_errors(path), atomic_path(path, force=force) as tmp, output_errors(path, tmp):
        subtype = "VORBIS" if path.suffix.lower() == ".ogg" else "PCM_16"
        with open_writer(tmp, sample_rate, channels, subtype) as handle:
            for block in blocks:
                data = block.detach().cpu().float().numpy().T
                clipped += int((np.abs(data) > 1).sum())
                count += data.size
                handle.write(np.clip(data, -1.0, 1.0))
    return clipped / max(count, 1)


#: less free space than this after a failed write means the disk is full: libsndfile reports
#: a full disk only as "System error", without the errno
DISK_FULL_BYTES = 1 << 20


@contextmanager
def output_errors(path: Path, tmp: Path | None = None) -> Iterator[None]:
    """Errors writing ``path`` (through its temp file ``tmp``) as one ``OSError`` naming
    ``path``, never the temp file; a full disk says so. Use it inside ``atomic_path`` too: the
    free space must be measured before the partial temp file is removed."""
    try:
        yield
    except (OSError, sf.SoundFileError) as exc:
        if getattr(exc, "errno", None) == errno.ENOSPC or (
            isinstance(exc, sf.SoundFileError)
            and shutil.disk_usage(path.parent).free < DISK_FULL_BYTES
        ):
            raise OSError(errno.ENOSPC, f"no space left on device writing {path}") from None
        if isinstance(exc, OSError):
            if exc.filename is None or exc.filename == str(path):
                raise
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from None
        text = str(exc).replace(str(tmp), str(path)) if tmp else str(exc)
        raise OSError(
            errno.EIO, f"cannot write audio ({text.strip() or 'system error'})", str(path)
        ) from None


def open_writer(path: Path, sample_rate: int, channels: int, subtype: str) -> sf.SoundFile:
    """A soundfile writer (format from the suffix) for audio written block by block."""
    return sf.SoundFile(str(path), "w", sample_rate, channels, subtype=subtype)


def write_block(writer: sf.SoundFile, audio: Tensor, room: int) -> int:
    """Write at most ``room`` samples of ``audio`` [1, C, n] (clipped); returns the count."""
    data = audio[0, :, : max(0, room)].cpu().numpy().T
    writer.write(np.clip(data, -1.0, 1.0))
    return int(data.shape[0])


def raw_chunks(stream: Any, size: int, channels: int, fmt: str) -> Iterator[np.ndarray]:
    """Interleaved little-endian PCM (``s16le`` / ``f32le``) from a binary stream as float32
    ``[n, channels]`` blocks of ``size`` samples (a trailing partial sample is dropped)."""
    dtype = np.dtype("<i2") if fmt == "s16le" else np.dtype("<f4")
    frame_bytes = dtype.itemsize * channels
    pending = b""
    while True:
        data = stream.read(size * frame_bytes - len(pending))
        if not data:
            break
        pending += data
        usable = len(pending) - len(pending) % frame_bytes
        if usable == 0:
            continue
        block = np.frombuffer(pending[:usable], dtype=dtype).reshape(-1, channels)
        pending = pending[usable:]
        block = block.astype(np.float32) / 32768.0 if fmt == "s16le" else block.astype(np.float32)
        if not np.isfinite(block).all():
            raise AudioError("stdin: stream contains NaN or infinite samples")
        yield block


def resample_blocks(
    blocks: Iterator[np.ndarray], rate: int, target: int, channels: int
) -> Iterator[Tensor]:
    """``[n, C]`` numpy blocks at ``rate`` -> ``[C, m]`` tensors at ``target`` (soxr stream)."""
    stream = (
        soxr.ResampleStream(rate, target, channels, dtype="float32") if rate != target else None
    )
    for block in blocks:
        out = stream.resample_chunk(block) if stream is not None else block
        if out.shape[0]:
            yield torch.from_numpy(np.ascontiguousarray(out.T))
    if stream is not None:
        last = stream.resample_chunk(np.zeros((0, channels), np.float32), last=True)
        if last.shape[0]:
            yield torch.from_numpy(np.ascontiguousarray(last.T))
