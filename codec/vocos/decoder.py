"""Vocos-style decoder: ConvNeXt blocks at the frame rate, then a causal inverse-STFT head.

Everything before the head runs at the frame rate (50 frames/s at 16 kHz, hop 320), which is
what makes it cheaper than transposed convolutions up to the sample rate. The only layers with
history are the causal convs and the inverse STFT's overlap tail, so it streams frame by frame
and per-item reset is exact (zero padding throughout).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codec.config import VocosConfig
from codec.nn.conv import StreamingConv1d
from codec.nn.kernels import framewise_linear
from codec.nn.streaming import StreamingContainer
from codec.vocos.istft import CausalISTFT
from codec.vocos.phase import VocoderPhase

__all__ = ["ConvNeXtBlock", "VocosDecoder"]

#: exp(log-magnitude) is clipped here, as in Vocos: keeps an untrained head from overflowing
MAX_MAGNITUDE = 100.0


def causal_conv(c_in: int, c_out: int, kernel_size: int, groups: int = 1) -> StreamingConv1d:
    """Causal, zero-padded stride-1 conv at the frame rate: ``[B, c_in, F] -> [B, c_out, F]``,
    batch- and chunk-invariant in CPU inference (``framewise``)."""
    return StreamingConv1d(
        c_in, c_out, kernel_size, causal=True, pad_mode="constant", groups=groups, framewise=True
    )


class ConvNeXtBlock(StreamingContainer):
    """``x + gamma * mlp(norm(dwconv(x)))`` on ``[B, dim, F]``; the depthwise conv is causal."""

    def __init__(self, cfg: VocosConfig) -> None:
        super().__init__()
        self.input_channels = cfg.dim
        self.dwconv = causal_conv(cfg.dim, cfg.dim, cfg.kernel_size, groups=cfg.dim)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.pwconv1 = nn.Linear(cfg.dim, cfg.intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(cfg.intermediate_dim, cfg.dim)
        self.gamma = nn.Parameter(torch.full((cfg.dim,), cfg.layer_scale_init))

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(self.dwconv(x).transpose(1, 2))  # [B, F, dim]: LayerNorm over channels
        # GEMMs in fixed tiles of frames in CPU inference: batch- and chunk-invariant
        h = self.act(framewise_linear(h, self.pwconv1.weight, self.pwconv1.bias))
        h = framewise_linear(h, self.pwconv2.weight, self.pwconv2.bias) * self.gamma
        return x + h.transpose(1, 2)


class VocosDecoder(StreamingContainer):
    """Latent ``[B, dimension, F]`` -> waveform ``[B, 1, F * hop_length]``.

    Causal conv in (``dimension -> dim``), LayerNorm, ``num_blocks`` ConvNeXt blocks, LayerNorm,
    a linear head to ``n_fft + 2`` channels per frame: log-magnitude (exp, clipped) and phase
    (through cos / sin; with ``phase="vocoder"`` a residual on the phase integrated from the
    magnitude peaks) of ``n_fft // 2 + 1`` bins, then :class:`CausalISTFT`. Frame ``t``
    completes samples ``[t*hop, (t+1)*hop)``; stream with ``streaming()`` / ``flush()``.
    """

    def __init__(self, cfg: VocosConfig, dimension: int, hop_length: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_channels = self.dimension = dimension
        self.hop_length = hop_length
        self.conv_in = causal_conv(dimension, cfg.dim, cfg.kernel_size)
        self.norm_in = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg) for _ in range(cfg.num_blocks))
        self.norm_out = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.n_fft + 2)
        self.istft = CausalISTFT(cfg.n_fft, hop_length)
        self.vocoder_phase: VocoderPhase | None = None
        if cfg.phase == "vocoder":
            self.vocoder_phase = VocoderPhase(cfg.n_fft, hop_length)
            # The head's phase channels become a residual on the integrated phase: start at
            # zero so that an untrained decoder already synthesises coherent harmonics.
            bins = cfg.n_fft // 2 + 1
            with torch.no_grad():
                self.head.weight[bins:].zero_()
                self.head.bias[bins:].zero_()

    def forward(self, x: Tensor) -> Tensor:
        """``[B, dimension, F]`` (a chunk of frames when streaming) -> ``[B, 1, F * hop]``."""
        if x.dim() != 3 or x.shape[1] != self.dimension:
            raise ValueError(
                f"VocosDecoder expects [B, {self.dimension}, F], got shape {tuple(x.shape)}"
            )
        h = self.norm_in(self.conv_in(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        return self.istft(self.spectrum(self.norm_out(h.transpose(1, 2))))

    def spectrum(self, h: Tensor) -> Tensor:
        """Features ``[B, F, dim]`` -> complex spectrum ``[B, n_fft // 2 + 1, F]``.

        In float32 at least: under autocast the head's output is bf16 / fp16, in which exp
        overflows early and torch has no FFT."""
        out = self.head(h)
        out = out.to(torch.promote_types(out.dtype, torch.float32)).transpose(1, 2)
        log_magnitude, phase = out.chunk(2, dim=1)
        if self.vocoder_phase is not None:
            phase = phase + self.vocoder_phase(log_magnitude)
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        # cos / sin rather than torch.polar: the same value, with a plain real backward
        return torch.complex(magnitude * phase.cos(), magnitude * phase.sin())
