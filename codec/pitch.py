"""Frame-wise fundamental frequency by YIN (de Cheveigné & Kawahara, 2002), in torch.

Used as the training target of the harmonic decoder's f0 (``model.vocos.source=harmonic``):
the decoder must carry the pitch through the tokens, and learning it from the waveform loss
alone is slow (a comb of harmonics has no useful gradient far from the true f0). Frames follow
:func:`codec.vocos.istft.causal_stft`: frame ``t`` is ``x[t*hop : t*hop + frame_length]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "FramePitch",
    "Pitch",
    "cumulative_mean_normalized",
    "difference_function",
    "frame_pitch",
    "parabola_offset",
    "yin",
]


class Pitch(NamedTuple):
    """``f0`` in Hz ``[B, F]`` (0 where unvoiced) and ``voiced`` ``[B, F]`` (bool)."""

    f0: Tensor
    voiced: Tensor


def difference_function(frames: Tensor, max_lag: int) -> Tensor:
    """YIN's ``d(tau) = sum_j (x_j - x_{j+tau})^2`` over the first ``N - max_lag`` samples of
    each frame: ``[..., N] -> [..., max_lag + 1]`` (by FFT, ``O(N log N)``)."""
    n = frames.shape[-1]
    width = n - max_lag
    if width < 1:
        raise ValueError(f"frames of {n} samples are too short for lags up to {max_lag}")
    size = 1 << (2 * n - 1).bit_length()
    head = frames[..., :width]
    spectrum = torch.fft.rfft(frames, size) * torch.fft.rfft(head, size).conj()
    cross = torch.fft.irfft(spectrum, size)[..., : max_lag + 1]  # sum_j x_j x_{j+tau}
    squares = F.pad(frames.square().cumsum(-1), (1, 0))  # prefix sums of x^2
    lags = torch.arange(max_lag + 1, device=frames.device)
    shifted = squares[..., lags + width] - squares[..., lags]  # sum_j x_{j+tau}^2
    return (squares[..., width : width + 1] + shifted - 2 * cross).clamp(min=0)


def cumulative_mean_normalized(d: Tensor) -> Tensor:
    """YIN's ``d'(tau) = d(tau) tau / sum_{1..tau} d``, ``d'(0) = 1``: ``[..., L] -> [..., L]``."""
    lags = torch.arange(d.shape[-1], device=d.device, dtype=d.dtype)
    running = d.cumsum(-1)
    out = d * lags / running.clamp(min=1e-12)
    out[..., 0] = 1.0
    return torch.where(running > 1e-12, out, torch.ones_like(out))


def parabola_offset(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Offset in ``[-0.5, 0.5]`` of the vertex of the parabola through ``(-1, a)``, ``(0, b)``,
    ``(1, c)`` (elementwise; 0 where the three are collinear): sub-sample peak or dip position."""
    den = a - 2 * b + c
    flat = den.abs() <= 1e-12
    inner = 0.5 * (a - c) / torch.where(flat, torch.ones_like(den), den)
    return torch.where(flat, torch.zeros_like(den), inner.clamp(-0.5, 0.5))


def _first_dip(dn: Tensor, min_lag: int, threshold: float, tolerance: float) -> Tensor:
    """``[..., L]`` -> the first local minimum at or past ``min_lag`` that is below
    ``threshold`` or within ``tolerance`` of the lowest value there (``[...]``, long).

    The tolerance keeps a frame whose best dip misses the threshold from jumping an octave
    down: the dip at twice the period is often a little lower than the period's own."""
    lags = torch.arange(dn.shape[-1], device=dn.device)
    inner = dn[..., 1:-1]
    local = torch.zeros_like(dn, dtype=torch.bool)
    local[..., 1:-1] = (inner <= dn[..., :-2]) & (inner <= dn[..., 2:])
    best = dn[..., min_lag:].amin(-1, keepdim=True)
    ok = local & ((dn < threshold) | (dn <= best + tolerance)) & (lags >= min_lag)
    first = torch.where(ok, lags, dn.shape[-1]).min(-1).values
    fallback = dn[..., min_lag:].argmin(-1) + min_lag
    return torch.where(first < dn.shape[-1], first, fallback)


class FramePitch(NamedTuple):
    """Per frame: ``f0`` in Hz (of the best lag, voiced or not) and ``aperiodicity``, YIN's
    normalised difference at that lag (0 for a periodic frame, about 1 for noise)."""

    f0: Tensor
    aperiodicity: Tensor


def frame_pitch(
    frames: Tensor,
    sample_rate: int,
    fmin: float = 50.0,
    fmax: float = 500.0,
    threshold: float = 0.15,
    tolerance: float = 0.1,
) -> FramePitch:
    """Frames ``[..., N]`` -> :class:`FramePitch` ``[...]`` each, one frame at a time (no
    frame sees another: usable inside a streaming encoder). Computed in float64; lags up to
    ``sample_rate / fmin`` (at most ``3 N / 4``) and refined by a parabola."""
    n = frames.shape[-1]
    max_lag = min(int(sample_rate / fmin), n - 1 - n // 4)
    min_lag = min(max(int(math.floor(sample_rate / fmax)), 2), max_lag - 1)
    dn = cumulative_mean_normalized(difference_function(frames.double(), max_lag))
    lag = _first_dip(dn, min_lag, threshold, tolerance).clamp(1, max_lag - 1)
    a, b, c = (dn.gather(-1, (lag + s)[..., None])[..., 0] for s in (-1, 0, 1))
    refined = lag.double() + parabola_offset(a, b, c)
    return FramePitch(f0=sample_rate / refined, aperiodicity=b.clamp(0, 2))


def yin(
    x: Tensor,
    sample_rate: int,
    hop_length: int,
    frame_length: int,
    fmin: float = 50.0,
    fmax: float = 500.0,
    threshold: float = 0.15,
    tolerance: float = 0.1,
    voicing: float = 0.35,
    silence_db: float = -45.0,
    offset: int = 0,
) -> Pitch:
    """``[B, T]`` audio -> :class:`Pitch` on ``ceil(T / hop)`` frames: frame ``t`` is
    ``x[t*hop - offset : t*hop - offset + frame_length]`` (zeros outside the signal).

    A frame is voiced where its best normalised difference is below ``voicing`` and its energy
    within ``silence_db`` of the loudest frame of its item.
    """
    count = -(-x.shape[-1] // hop_length)
    tail = (count - 1) * hop_length + frame_length - offset - x.shape[-1]
    padded = F.pad(x, (offset, max(tail, 0)))
    frames = padded.unfold(-1, frame_length, hop_length)[:, :count]  # [B, F, N]
    pitch = frame_pitch(frames, sample_rate, fmin, fmax, threshold, tolerance)
    energy = frames.double().square().mean(-1)
    loud = energy > energy.amax(-1, keepdim=True) * 10 ** (silence_db / 10) + 1e-12
    voiced = (pitch.aperiodicity < voicing) & loud
    f0 = torch.where(voiced, pitch.f0, 0.0)
    return Pitch(f0=f0.to(x.dtype), voiced=voiced)
