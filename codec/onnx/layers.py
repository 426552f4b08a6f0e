"""The streaming layers' steps in an exportable form: ``(x, states) -> (y, states)``.

Our layers keep their history in Python dataclasses and branch on it (start-up, flush, chunk
length); a traced graph cannot carry that. For a causal, zero-padded model fed whole frames
those branches always go one way (steady state, nothing to flush), so each layer's step is a
fixed sequence of tensor ops on its input and a few fixed-size state tensors. Every state
tensor has the batch on axis 0. Slices use constant (negative) bounds so the graphs keep a
dynamic number of frames per call. The FFTs are matmuls with fixed bases: ONNX export has
no ``fft_rfft`` / ``fft_irfft``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codec.nn.conv import StreamingConv1d, StreamingConvTranspose1d
from codec.nn.lstm import StreamingLSTM
from codec.nn.streaming import StreamingModule
from codec.seanet.blocks import SEANetResnetBlock
from codec.spectral.encoder import MIN_MAGNITUDE, CausalFrames
from codec.vocos.decoder import MAX_MAGNITUDE, stft_frames
from codec.vocos.istft import CausalISTFT

__all__ = ["LayerStep", "StateSpec", "layer_step", "spectrum_step"]


@dataclass(frozen=True)
class StateSpec:
    """One state tensor of a graph: ``[B, *shape]`` of ``dtype`` (``float32`` / ``int64``),
    zeros at a stream's start."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    def zeros(self, ref: Tensor) -> Tensor:
        """Zeros ``[B, *shape]`` with ``B`` taken from ``ref`` (dynamic in a traced graph)."""
        column = torch.zeros_like(ref.reshape(ref.shape[0], -1)[:, :1])  # [B, 1]
        zeros = column.reshape((-1,) + (1,) * len(self.shape)).expand((-1, *self.shape))
        return zeros.long() if self.dtype == "int64" else zeros


StepFn = Callable[[Tensor, list[Tensor]], tuple[Tensor, list[Tensor]]]


@dataclass
class LayerStep:
    """A layer's state tensors (names relative to the layer) and its exportable step."""

    specs: list[StateSpec]
    step: StepFn


def _shift_state(buf: Tensor, keep: int) -> list[Tensor]:
    """The last ``keep`` samples of ``buf`` as the next state (none when ``keep`` is 0)."""
    return [buf[..., -keep:]] if keep else []


def conv_step(m: StreamingConv1d) -> LayerStep:
    """Causal zero-padded conv: the state is the ``k_eff - stride`` last inputs."""
    keep = m.left
    weight, bias = m.conv.weight, m.conv.bias

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        buf = torch.cat([states[0], x], dim=-1) if keep else x
        y = F.conv1d(buf, weight, bias, m.stride, 0, m.dilation, m.groups)
        return y, _shift_state(buf, keep)

    return LayerStep([StateSpec("history", (m.input_channels, keep))] if keep else [], step)


def conv_transpose_step(m: StreamingConvTranspose1d) -> LayerStep:
    """Transposed conv: the state is the overlap-add tail ``[B, C_out, k - stride]``."""
    keep = m.overlap
    weight, bias = m.convtr.weight, m.convtr.bias

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        y = F.conv_transpose1d(x, weight, None, m.stride)  # [B, C_out, n * s + keep]
        if keep:
            y = torch.cat([y[..., :keep] + states[0], y[..., keep:]], dim=-1)
        out = y[..., :-keep] if keep else y
        if bias is not None:
            out = out + bias[:, None]
        return out, _shift_state(y, keep)

    return LayerStep([StateSpec("overlap", (m.out_channels, keep))] if keep else [], step)


def lstm_step(m: StreamingLSTM) -> LayerStep:
    """LSTM: the state is ``h`` and ``c``, stored batch-first ``[B, layers, C]``."""
    layers, dim = m.lstm.num_layers, m.lstm.hidden_size

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        seq = x.permute(2, 0, 1)
        h0, c0 = (s.transpose(0, 1).contiguous() for s in states)
        y, (h, c) = m.lstm(seq, (h0, c0))
        if m.skip:
            y = y + seq
        return y.permute(1, 2, 0), [h.transpose(0, 1), c.transpose(0, 1)]

    return LayerStep([StateSpec("h", (layers, dim)), StateSpec("c", (layers, dim))], step)


def residual_step(m: SEANetResnetBlock) -> LayerStep:
    """SEANet residual block: stateless in steady state (its convs carry their own)."""

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        return m.shortcut(x) + m.block(x), []

    return LayerStep([], step)


def _taps(n_fft: int, hop: int) -> int:
    return math.ceil(n_fft / hop)


def frames_step(m: CausalFrames) -> LayerStep:
    """Causal log-magnitude spectra. The window is widened to whole hops (zero weights on the
    extra past samples) so that framing is a reshape; the state is the past hops."""
    hop, n_fft = m.hop_length, m.n_fft
    taps = _taps(n_fft, hop)
    bins = n_fft // 2 + 1
    t = torch.arange(n_fft, dtype=torch.float64)
    angle = 2 * math.pi * t[:, None] * torch.arange(bins, dtype=torch.float64) / n_fft
    window = torch.hann_window(n_fft, dtype=torch.float64)[:, None]
    basis = torch.cat([window * angle.cos(), -window * angle.sin()], dim=1)  # [n_fft, 2 bins]
    basis = F.pad(basis, (0, 0, taps * hop - n_fft, 0))
    keep = (taps - 1) * hop

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        samples = x.reshape(x.shape[0], -1)
        buf = torch.cat([states[0], samples], dim=-1) if keep else samples
        hops = buf.reshape(buf.shape[0], -1, hop)  # [B, n + taps - 1, hop]
        parts = [hops[:, j : j - taps + 1] if j < taps - 1 else hops[:, j:] for j in range(taps)]
        # float64: a float32 DFT by matmul rounds ~sqrt(n_fft) times worse than an FFT, which
        # moves the log of quiet bins and flips codes
        spec = torch.matmul(torch.cat(parts, dim=-1).double(), basis)  # [B, n, 2 bins]
        re, im = spec[..., :bins], spec[..., bins:]
        magnitude = torch.sqrt(re * re + im * im).float()
        return magnitude.clamp_min(MIN_MAGNITUDE).log().transpose(1, 2), _shift_state(buf, keep)

    return LayerStep([StateSpec("history", (keep,))] if keep else [], step)


def spectrum_step(head: nn.Linear, bins: int) -> Callable[[Tensor], Tensor]:
    """The Vocos head without complex numbers: features ``[B, F, dim]`` -> ``[B, 2 bins, F *
    subframes]`` (real parts, then imaginary parts)."""

    def spectrum(h: Tensor) -> Tensor:
        log_magnitude, phase = stft_frames(head(h), bins).transpose(1, 2).chunk(2, dim=1)
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        return torch.cat([magnitude * phase.cos(), magnitude * phase.sin()], dim=1)

    return spectrum


def istft_step(m: CausalISTFT) -> LayerStep:
    """Causal inverse STFT of ``[B, 2 bins, n]`` (see :func:`spectrum_step`): the states are
    the overlap-add tail and the frames emitted so far (capped where the envelope is flat)."""
    hop, n_fft = m.hop_length, m.n_fft
    taps = _taps(n_fft, hop)
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.float64)
    scale = torch.where((k == 0) | (2 * k == n_fft), 1.0, 2.0)[:, None] / n_fft
    angle = 2 * math.pi * k[:, None] * torch.arange(n_fft, dtype=torch.float64) / n_fft
    window = m.window.to(torch.float64)
    basis = torch.cat([scale * angle.cos() * window, -scale * angle.sin() * window])
    basis = F.pad(basis, (0, taps * hop - n_fft)).float()  # [2 bins, taps * hop]
    envelope = m.envelope.float()
    rows = envelope.shape[0]
    keep = (taps - 1) * hop

    def step(x: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        segments = torch.matmul(x.transpose(1, 2), basis)  # [B, n, taps * hop]
        parts = segments.reshape(x.shape[0], -1, taps, hop)
        out = F.pad(parts[:, :, 0], (0, 0, 0, taps - 1))
        for j in range(1, taps):  # overlap-add: frame i's part j lands on hop i + j
            out = out + F.pad(parts[:, :, j], (0, 0, j, taps - 1 - j))
        out = out.reshape(x.shape[0], -1)  # [B, (n + taps - 1) * hop]
        if keep:
            out = torch.cat([out[:, :keep] + states[0], out[:, keep:]], dim=-1)
        done = out[:, :-keep] if keep else out
        count = torch.cumsum(torch.ones_like(x[:, 0, :]).long(), dim=1)  # 1..n per item
        index = (states[-1][:, None] + count - 1).clamp(max=rows - 1)
        audio = done / envelope[index].reshape(x.shape[0], -1)
        frames = (index[:, -1] + 1).clamp(max=rows - 1)
        return audio[:, None], _shift_state(out, keep) + [frames]

    specs = [StateSpec("tail", (keep,))] if keep else []
    return LayerStep(specs + [StateSpec("frames", (), "int64")], step)


def layer_step(m: StreamingModule) -> LayerStep:  # type: ignore[type-arg]
    """The exportable step of ``m``; ``ValueError`` naming the layer if it has none."""
    if isinstance(m, StreamingConv1d):
        return conv_step(m)
    if isinstance(m, StreamingConvTranspose1d):
        return conv_transpose_step(m)
    if isinstance(m, StreamingLSTM):
        return lstm_step(m)
    if isinstance(m, SEANetResnetBlock):
        return residual_step(m)
    if isinstance(m, CausalFrames):
        return frames_step(m)
    if isinstance(m, CausalISTFT):
        return istft_step(m)
    raise ValueError(f"no ONNX export for streaming layer {type(m).__name__}")
