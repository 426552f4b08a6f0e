"""Phase from magnitudes, frame by frame, as a phase vocoder integrates it.

Why: a Vocos head must learn each frame's phase so that consecutive frames overlap-add
coherently; after a CPU budget of ~1000 steps it has not, and voiced speech comes out without
harmonics (a whisper). Yet the phase of a harmonic signal is largely predictable from its
magnitudes: each spectral peak is a sinusoid whose phase advances by ``2 pi f hop / n_fft``
per frame. Integrating that advance at every peak, and locking the bins around a peak to it
(Laroche & Dolson's identity phase locking), turns true magnitudes at ``n_fft = 2 * hop`` into
audio with STOI 0.92 on the bundled unseen speakers (random phase: 0.80). It is causal (frame
``t`` needs only frame ``t - 1``'s phase), has no weights, and the decoder can still learn a
residual on top.

Conventions match :func:`codec.vocos.istft.causal_stft`: frame ``t`` is the hann-windowed
segment starting at sample ``t * hop``, so a sinusoid's bins ``k`` near its peak carry phase
``psi - pi (k - f)`` (the window's linear phase) around the peak frequency ``f`` (in bins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from codec.nn.streaming import State, StreamingModule, zero_rows
from codec.pitch import parabola_offset

__all__ = ["PhaseState", "VocoderPhase", "peak_owner", "vocoder_phase_step", "wrap"]


def wrap(phase: Tensor) -> Tensor:
    """Phase mapped to ``[-pi, pi)``: keeps the running phase of a long stream exact."""
    return torch.remainder(phase + math.pi, 2 * math.pi) - math.pi


def peak_owner(log_mag: Tensor) -> Tensor:
    """``[B, K]`` log-magnitudes -> ``[B, K]`` index of each bin's nearest local maximum.

    A peak is an interior bin above its left neighbour and not below its right one; a bin
    halfway between two peaks belongs to the lower one; ``-1`` where a frame has no peak.
    """
    k = log_mag.shape[-1]
    idx = torch.arange(k, device=log_mag.device).expand_as(log_mag)
    inner = log_mag[..., 1:-1]
    is_peak = torch.zeros_like(log_mag, dtype=torch.bool)
    is_peak[..., 1:-1] = (inner > log_mag[..., :-2]) & (inner >= log_mag[..., 2:])
    left = torch.where(is_peak, idx, -1).cummax(dim=-1).values
    none = 2 * k  # "no peak to the right": farther than any bin
    right = torch.where(is_peak, idx, none).flip(-1).cummin(dim=-1).values.flip(-1)
    use_left = (left >= 0) & ((right == none) | (idx - left <= right - idx))
    owner = torch.where(use_left, left, right)
    return torch.where(owner == none, -1, owner)


def _peak_offset(log_mag: Tensor) -> Tensor:
    """Fractional offset ``[-0.5, 0.5]`` of a parabola through each bin and its neighbours
    (``[B, K]``; 0 at the edges and where the three are collinear)."""
    inner = parabola_offset(log_mag[..., :-2], log_mag[..., 1:-1], log_mag[..., 2:])
    return torch.nn.functional.pad(inner, (1, 1))


def vocoder_phase_step(log_mag: Tensor, previous: Tensor, hop_ratio: float) -> Tensor:
    """One frame: log-magnitudes ``[B, K]`` and the previous frame's phase ``[B, K]`` ->
    this frame's phase ``[B, K]`` in ``[-pi, pi)``; ``hop_ratio = hop / n_fft``.

    Every peak advances at its interpolated frequency; the other bins keep the window's phase
    relation to their peak (``pi`` per bin); a frame without peaks advances each bin at its
    own centre frequency.
    """
    k = log_mag.shape[-1]
    bins = torch.arange(k, device=log_mag.device, dtype=log_mag.dtype).expand_as(log_mag)
    owner = peak_owner(log_mag)
    has = owner >= 0
    at = owner.clamp(min=0)
    frequency = at.to(log_mag.dtype) + _peak_offset(log_mag).gather(-1, at)
    locked = previous.gather(-1, at) + 2 * math.pi * hop_ratio * frequency
    locked = locked + math.pi * (bins - at.to(log_mag.dtype))
    free = previous + 2 * math.pi * hop_ratio * bins
    return wrap(torch.where(has, locked, free))


@dataclass
class PhaseState(State):
    """``previous``: the last frame's phase ``[B, K]`` (None before the first frame)."""

    previous: Tensor | None = None

    def reset_items(self, mask: Tensor) -> None:
        """A fresh stream starts from zero phase, as offline does."""
        if self.previous is not None:
            self.previous = zero_rows(self.previous, mask)


class VocoderPhase(StreamingModule[PhaseState]):
    """Log-magnitudes ``[B, K, F]`` -> phase ``[B, K, F]`` by :func:`vocoder_phase_step`.

    Frames are processed one after another in offline and streaming use alike (the same
    operations in the same order, so a stream equals the offline result exactly). No gradient
    flows through it: peak picking is piecewise constant, the decoder learns through the
    magnitudes and its residual phase.
    """

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.hop_ratio = hop_length / n_fft
        self.input_channels = n_fft // 2 + 1

    def init_state(self, batch_size: int) -> PhaseState:
        return PhaseState(batch_size=batch_size)

    @torch.no_grad()
    def step(self, x: Tensor, state: PhaseState) -> Tensor:
        log_mag = x.detach().float()
        previous = state.previous
        if previous is None:
            previous = log_mag.new_zeros(log_mag.shape[0], log_mag.shape[1])
        frames = []
        for t in range(log_mag.shape[-1]):
            previous = vocoder_phase_step(log_mag[..., t], previous, self.hop_ratio)
            frames.append(previous)
        state.previous = previous
        if not frames:
            return log_mag.new_zeros(log_mag.shape)
        return torch.stack(frames, dim=-1)
