"""Mel filterbanks on the Slaney mel scale, computed here (no librosa: it would pull numba,
llvmlite and scikit-learn into every install for one matrix)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["hz_to_mel", "mel_filterbank", "mel_to_hz"]

# The Slaney (Auditory Toolbox) scale: linear up to 1 kHz, logarithmic above it.
_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = math.log(6.4) / 27.0  # natural-log width of one mel above the break


def hz_to_mel(hz: Tensor) -> Tensor:
    """Frequencies in Hz -> Slaney mels (any shape, float64 recommended)."""
    linear = hz / _LINEAR_HZ_PER_MEL
    log = _BREAK_MEL + torch.log(hz.clamp_min(_BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return torch.where(hz >= _BREAK_HZ, log, linear)


def mel_to_hz(mel: Tensor) -> Tensor:
    """Slaney mels -> Hz, the inverse of :func:`hz_to_mel`."""
    linear = mel * _LINEAR_HZ_PER_MEL
    log = _BREAK_HZ * torch.exp(_LOG_STEP * (mel.clamp_min(_BREAK_MEL) - _BREAK_MEL))
    return torch.where(mel >= _BREAK_MEL, log, linear)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """Triangular filters ``[n_mels, n_fft // 2 + 1]`` (float32) over the rFFT bins.

    Filter ``m`` rises from edge ``m`` to ``m + 1`` and falls to ``m + 2``, the ``n_mels + 2``
    edges equally spaced in Slaney mels over ``[f_min, f_max]`` (default: Nyquist). Each
    filter is scaled by ``2 / (its bandwidth in Hz)`` so it has the same area (Slaney
    normalization): a filter's weight follows its width, not its count of FFT bins.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if n_fft < 1 or n_mels < 1 or not 0 <= f_min < f_max:
        raise ValueError(
            f"mel filterbank needs n_fft, n_mels >= 1 and 0 <= f_min < f_max, got "
            f"n_fft={n_fft}, n_mels={n_mels}, f_min={f_min}, f_max={f_max}"
        )
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (sample_rate / n_fft)  # rFFT bin Hz
    limits = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64))
    edges = mel_to_hz(
        torch.linspace(float(limits[0]), float(limits[1]), n_mels + 2, dtype=torch.float64)
    )
    widths = edges.diff()  # [n_mels + 1]
    offsets = edges[:, None] - bins[None, :]  # [n_mels + 2, F]: edge minus bin frequency
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = torch.minimum(rising, falling).clamp_min(0.0)
    area = 2.0 / (edges[2:] - edges[:-2])
    return (weights * area[:, None]).float()
