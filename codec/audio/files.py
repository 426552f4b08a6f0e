"""Audio I/O and conversion: load/save with soundfile, resample with soxr, mix channels, normalise.

Only torch, numpy, soundfile and soxr are used, so inference never needs the training stack.
Waveforms are float32 tensors shaped ``[C, T]`` (channels, samples) unless stated otherwise.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor

from codec.errors import one_line
from codec.fileio import atomic_path

__all__ = [
    "AUDIO_EXTENSIONS",
    "Audio",
    "AudioError",
    "AudioInfo",
    "audio_info",
    "convert_channels",
    "load_audio",
    "loudness_normalize",
    "peak_normalize",
    "resample",
    "resampled_length",
    "rms_db",
    "save_audio",
]

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg")
"""Suffixes scanned by default (anything libsndfile reads also loads)."""

_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
_DEFAULT_SUBTYPES = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS"}


class AudioError(ValueError):
    """An audio file is missing, unreadable, empty or holds non-finite samples."""


class Audio(NamedTuple):
    """Loaded audio: ``wav`` is float32 ``[C, T]``, ``sample_rate`` in Hz."""

    wav: Tensor
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.wav.shape[-1] / self.sample_rate


class AudioInfo(NamedTuple):
    """Header facts of an audio file (no samples read)."""

    frames: int
    sample_rate: int
    channels: int
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read the header of ``path``; raises :class:`AudioError` if missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such audio file")
    try:
        info = sf.info(str(p))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{p}: unreadable audio ({one_line(exc)})") from None
    return AudioInfo(int(info.frames), int(info.samplerate), int(info.channels), str(info.subtype))


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> Audio:
    """Load ``path`` as float32 ``[C, T]`` (``C = 1`` when ``mono``), resampled to ``sample_rate``.

    Any format libsndfile reads works (wav/flac/ogg, 8/16/24/32-bit PCM, float). ``offset`` and
    ``duration`` (seconds, in the file's own timeline) read only part of the file. Stereo is
    downmixed by averaging the channels. Raises :class:`AudioError` (one line naming the file) if
    the file is missing, unreadable, empty or contains NaN/inf samples.
    """
    p = Path(path)
    info = audio_info(p)
    start = max(0, int(round(offset * info.sample_rate)))
    stop = None if duration is None else start + int(round(duration * info.sample_rate))
    try:
        data, sr = sf.read(str(p), start=start, stop=stop, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{p}: unreadable audio ({one_line(exc)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{p}: empty audio (0 samples read)")
    if not np.isfinite(data).all():
        raise AudioError(f"{p}: audio contains NaN or infinite samples")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    if mono:
        wav = convert_channels(wav, 1)
    if sample_rate is not None and sample_rate != sr:
        wav = resample(wav, int(sr), sample_rate)
        sr = sample_rate
    return Audio(wav, int(sr))


def save_audio(
    path: str | os.PathLike[str],
    wav: Tensor | np.ndarray,
    sample_rate: int,
    force: bool = False,
    subtype: str | None = None,
) -> Path:
    """Write ``wav`` (``[C, T]`` or ``[T]``) to ``path`` atomically; returns the path.

    The format comes from the suffix (``.wav``, ``.flac``, ``.ogg``); ``subtype`` defaults to
    16-bit PCM (``"PCM_24"``, ``"FLOAT"`` ... also accepted). PCM output is clipped to
    ``[-1, 1]`` (with a warning if anything was clipped). The file is written to a temp file in
    the same folder and renamed, so readers never see a partial file. Raises
    :class:`FileExistsError` if ``path`` exists and ``force`` is false.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _WRITE_FORMATS:
        raise ValueError(
            f"{target}: cannot infer audio format, use one of {sorted(_WRITE_FORMATS)}"
        )
    data = _to_numpy_2d(wav, target)
    subtype = subtype or _DEFAULT_SUBTYPES[suffix]
    if not subtype.startswith(("FLOAT", "DOUBLE")) and np.abs(data).max(initial=0.0) > 1.0:
        warnings.warn(f"{target}: clipping samples outside [-1, 1]", stacklevel=2)
        data = np.clip(data, -1.0, 1.0)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass force=True to overwrite")
    with atomic_path(target, force=force) as tmp:
        sf.write(str(tmp), data.T, sample_rate, format=_WRITE_FORMATS[suffix], subtype=subtype)
    return target


def resampled_length(num_samples: int, from_sr: int, to_sr: int) -> int:
    """Number of samples :func:`resample` returns: ``ceil(num_samples * to_sr / from_sr)``."""
    return -(-num_samples * to_sr // from_sr)


def resample(wav: Tensor, from_sr: int, to_sr: int, quality: str = "HQ") -> Tensor:
    """Resample ``wav`` ``[..., T]`` from ``from_sr`` to ``to_sr`` with soxr.

    Returns ``[..., T']`` with ``T' = ceil(T * to_sr / from_sr)``, same dtype and device.
    Not differentiable (goes through numpy).
    """
    if from_sr <= 0 or to_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {from_sr} -> {to_sr}")
    if from_sr == to_sr:
        return wav
    lead, length = wav.shape[:-1], wav.shape[-1]
    out_length = resampled_length(length, from_sr, to_sr)
    if length == 0 or wav.numel() == 0:
        return wav.new_zeros(*lead, out_length)
    flat = wav.detach().reshape(-1, length).to("cpu", torch.float32).numpy()
    out = soxr.resample(np.ascontiguousarray(flat.T), from_sr, to_sr, quality=quality)
    result = torch.from_numpy(np.ascontiguousarray(out.T))
    return result.reshape(*lead, result.shape[-1]).to(device=wav.device, dtype=wav.dtype)


def convert_channels(wav: Tensor, channels: int) -> Tensor:
    """Convert ``[..., C, T]`` to ``channels`` channels: downmix by mean to 1, or repeat mono."""
    current = wav.shape[-2]
    if current == channels:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if current == 1:
        return wav.expand(*wav.shape[:-2], channels, wav.shape[-1]).clone()
    raise ValueError(f"cannot convert {current} channels to {channels}")


def rms_db(wav: Tensor, eps: float = 1e-20) -> float:
    """Root-mean-square level of ``wav`` (any shape) in dBFS (full-scale sine = -3 dB)."""
    return 10.0 * math.log10(float(wav.double().pow(2).mean()) + eps)


def peak_normalize(wav: Tensor, peak_db: float = -1.0, eps: float = 1e-8) -> Tensor:
    """Scale ``wav`` (any shape) so its absolute peak is ``peak_db`` dBFS; silence is unchanged."""
    peak = float(wav.abs().max()) if wav.numel() else 0.0
    if peak < eps:
        return wav
    return wav * (10 ** (peak_db / 20) / peak)


def loudness_normalize(
    wav: Tensor, target_db: float = -23.0, max_gain_db: float = 30.0, peak_db: float = -1.0
) -> Tensor:
    """Scale ``wav`` to an RMS level of ``target_db`` dBFS (unweighted, not LUFS).

    The gain is capped at ``max_gain_db`` (so near-silence is not blown up into noise) and
    reduced if needed so the peak stays below ``peak_db`` dBFS.
    """
    if wav.numel() == 0:
        return wav
    gain_db = min(target_db - rms_db(wav), max_gain_db)
    peak = float(wav.abs().max())
    if peak > 0:
        gain_db = min(gain_db, peak_db - 20 * math.log10(peak))
    return wav * (10 ** (gain_db / 20))


def _to_numpy_2d(wav: Tensor | np.ndarray, target: Path) -> np.ndarray:
    """``[C, T]`` or ``[T]`` tensor/array -> float32 numpy ``[C, T]``; checks finiteness."""
    data = wav.detach().to("cpu", torch.float32).numpy() if isinstance(wav, Tensor) else wav
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"{target}: expected wav [C, T] or [T], got shape {tuple(data.shape)}")
    if not np.isfinite(data).all():
        raise ValueError(f"{target}: refusing to write NaN or infinite samples")
    return data
