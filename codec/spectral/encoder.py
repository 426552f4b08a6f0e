"""Spectral encoder: the waveform's causal log-magnitude spectrum through ConvNeXt blocks.

A waveform encoder (SEANet) starts from a latent that is nearly its biases: its
frame-to-frame variation is ~1 % of the output and takes thousands of steps to grow, so on a
CPU budget the decoder learns an average spectrum and the codebooks collapse onto the few
points the latent occupies. A log-magnitude spectrum is informative from step 0 (energy,
formants, voicing are there already), at the frame rate, so every layer after it runs 320x
fewer positions than a waveform conv at 16 kHz. Frame ``t`` is the hann-windowed
``x[(t+1)*hop - n_fft : (t+1)*hop]`` (zeros before the start): it sees exactly the samples a
causal SEANet frame sees, so the codec keeps its one-frame latency and streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codec.config import SpectralConfig, VocosConfig
from codec.nn.kernels import framewise_linear
from codec.nn.streaming import State, StreamingContainer, StreamingModule, zero_rows
from codec.pitch import frame_pitch
from codec.vocos.decoder import ConvNeXtBlock, causal_conv

__all__ = ["CausalFrames", "FramesState", "SpectralEncoder"]

#: log-magnitudes are clamped here (about -100 dB re full scale): silence stays finite
MIN_MAGNITUDE = 1e-5
#: spectral.pitch: latent channel 0 is ``PITCH_SCALE * log(f0 / 150 Hz)`` on periodic frames
#: (aperiodicity below ``PERIODIC``), 0 elsewhere. Large next to the other channels (std ~0.6)
#: so that the quantizer spends its first bits on it: half a semitone is 0.35 there.
PITCH_SCALE = 12.0
PERIODIC = 0.4


@dataclass
class FramesState(State):
    """``history``: the last ``n_fft - hop`` samples ``[B, n_fft - hop]`` before the next
    frame's hop (zeros at a stream's start); ``pending``: samples of an incomplete hop."""

    history: Tensor | None = None
    pending: Tensor | None = None

    def reset_items(self, mask: Tensor) -> None:
        if self.history is not None:
            self.history = zero_rows(self.history, mask)


class CausalFrames(StreamingModule[FramesState]):
    """Waveform ``[B, 1, T]`` -> log-magnitude spectra ``[B, n_fft // 2 + 1, ceil(T / hop)]``
    (with ``pitch_rate``: two more channels, ``log(f0 / 150 Hz)`` and the aperiodicity of
    :func:`codec.pitch.frame_pitch` on the same frame, at that sample rate).

    Frame ``t`` ends at sample ``(t + 1) * hop``; a last incomplete hop is zero-padded at the
    end of the stream (offline: at once), as the causal SEANet encoder pads its tail.
    """

    def __init__(self, n_fft: int, hop_length: int, pitch_rate: int | None = None) -> None:
        super().__init__()
        if hop_length < 1 or n_fft < hop_length:
            raise ValueError(f"need n_fft >= hop_length >= 1, got {n_fft} and {hop_length}")
        self.n_fft, self.hop_length = n_fft, hop_length
        self.pitch_rate = pitch_rate
        self.input_channels = 1
        #: output channels: the log-magnitudes (and the two pitch features)
        self.channels = n_fft // 2 + 1 + (2 if pitch_rate is not None else 0)
        self.window: Tensor
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def init_state(self, batch_size: int) -> FramesState:
        return FramesState(batch_size=batch_size)

    def check_item_reset(self, state: FramesState) -> None:
        if state.pending is not None and state.pending.shape[-1]:
            raise ValueError("CausalFrames: reset streams only between whole frames")

    def step(self, x: Tensor, state: FramesState) -> Tensor:
        batch, hop, overlap = x.shape[0], self.hop_length, self.n_fft - self.hop_length
        samples = x.reshape(batch, -1)
        history = state.history
        if history is None:
            history = samples.new_zeros(batch, overlap)
        parts = [history] + ([state.pending] if state.pending is not None else []) + [samples]
        buf = torch.cat(parts, dim=-1)
        if state.final and (buf.shape[-1] - overlap) % hop:
            buf = F.pad(buf, (0, hop - (buf.shape[-1] - overlap) % hop))
        n = (buf.shape[-1] - overlap) // hop
        state.history = buf[:, n * hop : n * hop + overlap]
        state.pending = buf[:, n * hop + overlap :]
        if n == 0:
            return x.new_zeros(batch, self.channels, 0)
        frames = buf[:, : n * hop + overlap].unfold(-1, self.n_fft, hop)  # [B, n, n_fft]
        window = self.window.to(frames.dtype)
        magnitude = torch.fft.rfft(frames.float() * window.float(), dim=-1).abs()
        features = magnitude.clamp_min(MIN_MAGNITUDE).log().transpose(1, 2)
        if self.pitch_rate is not None:
            pitch = frame_pitch(frames, self.pitch_rate)
            extra = torch.stack([(pitch.f0 / 150.0).log(), pitch.aperiodicity], dim=1)
            features = torch.cat([features, extra.to(features.dtype)], dim=1)
        return features.to(x.dtype)


class SpectralEncoder(StreamingContainer):
    """Waveform ``[B, 1, T]`` -> latent ``[B, dimension, ceil(T / hop)]``.

    :class:`CausalFrames`, a causal conv (``kernel_size``) to ``dim`` channels, LayerNorm,
    ``num_blocks`` ConvNeXt blocks (as in the Vocos decoder), LayerNorm, a linear map to
    ``dimension``. Streams chunk by chunk with ``streaming()`` / ``flush()``.
    """

    def __init__(
        self, cfg: SpectralConfig, dimension: int, hop_length: int, sample_rate: int | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_channels = 1
        self.dimension, self.hop_length = dimension, hop_length
        trunk = VocosConfig(
            dim=cfg.dim,
            intermediate_dim=cfg.intermediate_dim,
            num_blocks=cfg.num_blocks,
            kernel_size=cfg.kernel_size,
            layer_scale_init=cfg.layer_scale_init,
        )
        if cfg.pitch and sample_rate is None:
            raise ValueError("the encoder's pitch features (spectral.pitch) need the sample rate")
        self.frames = CausalFrames(cfg.n_fft, hop_length, sample_rate if cfg.pitch else None)
        self.conv_in = causal_conv(self.frames.channels, cfg.dim, cfg.kernel_size)
        self.norm_in = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(trunk) for _ in range(cfg.num_blocks))
        self.norm_out = nn.LayerNorm(cfg.dim, eps=1e-6)
        # spectral.pitch: channel 0 is the pitch alone (a learnt part there, trained by the
        # reconstruction, blurred the f0 by about a semitone), the map gives the others
        self.proj = nn.Linear(cfg.dim, dimension - 1 if cfg.pitch else dimension)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"SpectralEncoder expects [B, 1, T], got shape {tuple(x.shape)}")
        features = self.frames(x)
        h = self.conv_in(features)
        h = self.norm_in(h.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        h = self.norm_out(h.transpose(1, 2))
        # in fixed tiles of frames in CPU inference: batch- and chunk-invariant
        latent = framewise_linear(h, self.proj.weight, self.proj.bias).transpose(1, 2)
        if self.cfg.pitch:
            log_f0, aperiodicity = features[:, -2], features[:, -1]
            pitch = torch.where(aperiodicity < PERIODIC, PITCH_SCALE * log_f0, 0.0)
            latent = torch.cat([pitch[:, None].to(latent.dtype), latent], dim=1)
        return latent
