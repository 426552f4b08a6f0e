"""Causal short-time Fourier transform pair: frame ``t`` covers samples ``[t*hop, t*hop + n_fft)``.

Synthesis overlap-adds each frame's windowed inverse FFT at its own hop, so once frame ``t`` is
known the samples ``[t*hop, (t+1)*hop)`` are final (no later frame reaches back into them): one
hop out per frame in, like SEANet's causal transposed convs (also left-aligned, overlap trimmed
on the right). The sum is divided by the exact squared-window envelope of the frames that
cover each sample; over the first ``n_fft - hop`` samples fewer frames overlap, so the partial
envelope is used there, floored (:data:`ENVELOPE_FLOOR`) so the start never blows up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from codec.nn.streaming import State, StreamingModule, zero_rows

__all__ = ["ENVELOPE_FLOOR", "CausalISTFT", "ISTFTState", "causal_stft", "overlap_add"]

#: the envelope's floor, relative to its steady-state minimum: bounds the gain on the first
#: samples of a stream (where only the window's rising edge covers them) by 1 / sqrt(floor).
ENVELOPE_FLOOR = 0.1


def overlap_add(frames: Tensor, hop_length: int) -> Tensor:
    """Frames ``[B, n, N]`` summed ``hop_length`` apart -> ``[B, (n - 1) * hop + N]``."""
    batch, n, size = frames.shape
    if n == 0:
        return frames.new_zeros(batch, max(size - hop_length, 0))
    if size % hop_length == 0:
        # Shifted additions of whole hops: cheaper than F.fold's scatter, and on all threads.
        taps = size // hop_length
        parts = frames.reshape(batch, n, taps, hop_length)
        out = frames.new_zeros(batch, n + taps - 1, hop_length)
        for j in range(taps):
            out[:, j : j + n] += parts[:, :, j]
        return out.reshape(batch, -1)
    length = (n - 1) * hop_length + size
    out = F.fold(frames.transpose(1, 2), (1, length), (1, size), stride=(1, hop_length))
    return out.reshape(batch, length)


def causal_stft(x: Tensor, n_fft: int, hop_length: int) -> Tensor:
    """Analysis matching :class:`CausalISTFT`: ``[B, T]`` -> complex ``[B, n_fft // 2 + 1, F]``
    with ``F = ceil(T / hop)``; frame ``t`` is the hann-windowed ``x[t*hop : t*hop + n_fft]``,
    zero-padded past the end."""
    frames = -(-x.shape[-1] // hop_length)
    padded = F.pad(x, (0, (frames - 1) * hop_length + n_fft - x.shape[-1]))
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    windows = padded.unfold(-1, n_fft, hop_length) * window  # [B, F, n_fft]
    return torch.fft.rfft(windows, dim=-1).transpose(1, 2)


@dataclass
class ISTFTState(State):
    """``tail``: overlap-add sums ``[B, n_fft - hop]`` past the last emitted sample (no later
    frame has been added yet); ``frames``: frames emitted so far per item ``[B]`` (where each
    item stands on the start-up envelope)."""

    tail: Tensor | None = None
    frames: Tensor | None = None

    def reset_items(self, mask: Tensor) -> None:
        """A fresh stream has nothing to add and starts on the partial envelope again."""
        if self.tail is not None:
            self.tail = zero_rows(self.tail, mask)
        if self.frames is not None:
            self.frames = self.frames.masked_fill(mask.to(self.frames.device), 0)


class CausalISTFT(StreamingModule[ISTFTState]):
    """Complex spectrum ``[B, n_fft // 2 + 1, F]`` -> waveform ``[B, 1, F * hop]``, causal.

    Inverse of :func:`causal_stft` wherever the envelope is above its floor (all but the first
    samples of a stream). Streams frame by frame; at ``flush`` the overlap past the last frame's
    hop is dropped, so the total length is ``F * hop`` as for SEANet's decoder.
    """

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        if hop_length < 1 or n_fft <= hop_length:
            raise ValueError(f"need n_fft > hop_length >= 1, got {n_fft} and {hop_length}")
        self.n_fft, self.hop_length = n_fft, hop_length
        self.input_channels = n_fft // 2 + 1
        window = torch.hann_window(n_fft, dtype=torch.float64)
        # envelope[h]: the squared-window sum over hop h of a stream; constant from the row
        # ceil(n_fft / hop) - 1 on (every covering frame exists), which later hops reuse.
        rows = math.ceil(n_fft / hop_length)
        squares = (window**2).expand(1, rows, n_fft)
        envelope = overlap_add(squares, hop_length)[0, : rows * hop_length].view(rows, hop_length)
        floor = ENVELOPE_FLOOR * float(envelope[-1].min())
        self.window: Tensor
        self.envelope: Tensor
        # Not persistent: derived from the config, so exports hold only learnt weights. Kept in
        # float64 (cast per call) so that a float64 synthesis is exact to float64 too.
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("envelope", envelope.clamp(min=floor), persistent=False)

    def init_state(self, batch_size: int) -> ISTFTState:
        return ISTFTState(batch_size=batch_size)

    def step(self, x: Tensor, state: ISTFTState) -> Tensor:
        batch, n = x.shape[0], x.shape[-1]
        real = torch.promote_types(x.real.dtype, torch.float32)
        overlap = self.n_fft - self.hop_length
        if n == 0:
            if state.final:
                state.tail = None  # past the last frame's hop: trimmed, as SEANet's decoder
            return x.real.new_zeros(batch, 1, 0).to(real)
        segments = torch.fft.irfft(x.transpose(1, 2), n=self.n_fft, dim=-1)  # [B, n, n_fft]
        out = overlap_add(segments.to(real) * self.window.to(real), self.hop_length)
        if state.tail is not None:
            out = torch.cat([out[:, :overlap] + state.tail, out[:, overlap:]], dim=-1)
        done = n * self.hop_length
        state.tail = None if state.final else out[:, done:]
        return (out[:, :done] / self._envelope(state, batch, n, x.device).to(real))[:, None]

    def _envelope(self, state: ISTFTState, batch: int, n: int, device: torch.device) -> Tensor:
        """The envelope ``[B, n * hop]`` under the next ``n`` hops of each item; advances it."""
        if state.frames is None:
            state.frames = torch.zeros(batch, dtype=torch.long, device=device)
        rows = self.envelope.shape[0]
        index = (state.frames[:, None] + torch.arange(n, device=device)).clamp(max=rows - 1)
        state.frames = (state.frames + n).clamp(max=rows - 1)  # no growth past the steady row
        return self.envelope[index].reshape(batch, n * self.hop_length)
