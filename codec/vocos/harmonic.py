"""Harmonic source for the Vocos decoder: the STFT of a sum of harmonics of a predicted f0.

Why: after a CPU budget of ~1000 steps a Vocos head predicts the right spectral envelope but no
harmonics (a whisper; BENCHMARKS.md, "Where the quickstart loses intelligibility"): resolving
the comb of a voice from scratch takes thousands of steps. Here the decoder predicts an f0 per
frame (supervised by :func:`codec.pitch.yin` on the input during training) and the comb is
built analytically: harmonic ``k`` of a frame is a sinusoid at ``k f0`` whose phase at the
frame's first sample is ``k`` times the fundamental's running phase, and its STFT is the Hann
window's transform centred on ``k f0`` (main lobe only, 4 bins wide). The head still predicts
the envelope, a per-bin harmonic/noise mix and the phase of the noise part.

Conventions follow :func:`codec.vocos.istft.causal_stft` (frame ``t`` starts at ``t * hop``;
a sinusoid of phase ``psi`` at ``f`` bins gives bin ``j`` the phase ``psi - pi (j - f)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from codec.nn.streaming import State, StreamingModule, zero_rows
from codec.vocos.phase import wrap

__all__ = [
    "FundamentalPhase",
    "FundamentalState",
    "hann_lobe",
    "harmonic_spectrum",
]


def hann_lobe(offset: Tensor) -> Tensor:
    """Main lobe of a Hann window's transform at ``offset`` bins, 1 at 0, 0 from 2 bins on:
    ``sinc(d) / (1 - d^2)`` (0.5 at 1 bin, where both factors vanish)."""
    d = offset.abs()
    near_one = (d - 1).abs() < 1e-4
    safe = torch.where(near_one, torch.zeros_like(d), d)
    value = torch.sinc(safe) / (1 - safe.square())
    value = torch.where(near_one, torch.full_like(d, 0.5), value)
    return torch.where(d < 2, value, torch.zeros_like(d))


def harmonic_spectrum(f0_bins: Tensor, phase: Tensor, bins: int, neighbours: int = 1) -> Tensor:
    """Unit-amplitude harmonics of ``f0_bins`` ``[B, F]`` (f0 in FFT bins, > 0) with fundamental
    phase ``phase`` ``[B, F]`` at each frame's start -> complex ``[B, bins, F]``.

    Bin ``j`` sums the ``2 * neighbours + 1`` harmonics nearest to it (harmonic numbers >= 1, up
    to the last below Nyquist): a lobe is 4 bins wide and f0 is at least ~2 bins, so farther
    harmonics contribute nothing. Differentiable in ``f0_bins`` (through the lobe positions).
    """
    j = torch.arange(bins, device=f0_bins.device, dtype=f0_bins.dtype)[None, :, None, None]
    f0 = f0_bins[:, None, :, None]  # [B, 1, F, 1]
    nearest = torch.round(j / f0.detach())
    steps = torch.arange(-neighbours, neighbours + 1, device=f0.device, dtype=f0.dtype)
    k = nearest + steps  # [B, bins, F, S]
    top = torch.floor((bins - 1) / f0.detach())
    valid = (k >= 1) & (k <= top)
    offset = j - k * f0
    amplitude = hann_lobe(offset) * valid
    angle = k * phase[:, None, :, None] - math.pi * offset
    real = (amplitude * angle.cos()).sum(-1)
    imag = (amplitude * angle.sin()).sum(-1)
    return torch.complex(real, imag)


@dataclass
class FundamentalState(State):
    """``phase``: the fundamental's phase at the last frame's start ``[B]``; ``f0``: that
    frame's f0 in bins ``[B]`` (None before the first frame)."""

    phase: Tensor | None = None
    f0: Tensor | None = None

    def reset_items(self, mask: Tensor) -> None:
        """A fresh stream starts from phase 0 and no previous frame, as offline does."""
        if self.phase is not None and self.f0 is not None:
            self.phase = zero_rows(self.phase, mask)
            self.f0 = torch.where(mask.to(self.f0.device), -1.0, self.f0)


class FundamentalPhase(StreamingModule[FundamentalState]):
    """f0 in bins ``[B, F]`` -> the fundamental's phase at each frame's start ``[B, F]``.

    Frame ``t``'s phase is frame ``t - 1``'s advanced over one hop at the mean of the two
    frames' f0 (``2 pi f hop / n_fft``), in float64 and wrapped to ``[-pi, pi)``; one frame after
    another, offline and streaming alike, so a stream equals the offline result exactly. No
    gradient: the phase is a running sum over the whole stream.
    """

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.hop_ratio = hop_length / n_fft
        self.input_channels = 1

    def init_state(self, batch_size: int) -> FundamentalState:
        return FundamentalState(batch_size=batch_size)

    @torch.no_grad()
    def step(self, x: Tensor, state: FundamentalState) -> Tensor:
        f0 = x.detach().double()
        if f0.dim() == 3:
            f0 = f0[:, 0]
        phase, previous = state.phase, state.f0
        if phase is None or previous is None:
            phase = f0.new_zeros(f0.shape[0])
            previous = f0.new_full((f0.shape[0],), -1.0)
        frames = []
        for t in range(f0.shape[-1]):
            current = f0[:, t]
            started = previous >= 0
            mean = torch.where(started, 0.5 * (previous + current), current)
            advanced = wrap(phase + 2 * math.pi * self.hop_ratio * mean)
            phase = torch.where(started, advanced, phase)
            previous = current
            frames.append(phase)
        state.phase, state.f0 = phase, previous
        if not frames:
            return x.new_zeros(f0.shape)
        return torch.stack(frames, dim=-1).to(x.dtype)
