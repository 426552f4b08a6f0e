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
from codec.vocos.harmonic import FundamentalPhase, harmonic_spectrum
from codec.vocos.istft import CausalISTFT
from codec.vocos.phase import VocoderPhase

__all__ = ["ConvNeXtBlock", "VocosDecoder", "decode_with_pitch", "stft_frames"]

#: exp(log-magnitude) is clipped here, as in Vocos: keeps an untrained head from overflowing
MAX_MAGNITUDE = 100.0
#: the harmonic source's f0 range in Hz (``VocosConfig.harmonic``): speech, 2 bins and up at
#: the default 16 kHz / n_fft 640 (so the comb's 4-bin lobes only reach neighbouring harmonics)
F0_MIN, F0_MAX = 50.0, 500.0
#: f0 = F0_CENTRE * exp(F0_RANGE * tanh(o / F0_RANGE)): 45-500 Hz, log(f0 / 150) ~ o near 0
F0_CENTRE, F0_RANGE = 150.0, 1.2


def stft_frames(out: Tensor, bins: int) -> Tensor:
    """The head's output ``[B, F, subframes * 2 bins]`` -> ``[B, F * subframes, 2 bins]``: each
    latent frame's STFT frames in time order (shared with the ONNX graph's head)."""
    return out.reshape(out.shape[0], -1, 2 * bins)


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

    def __init__(
        self,
        cfg: VocosConfig,
        dimension: int,
        hop_length: int,
        sample_rate: int | None = None,
        pitch_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_channels = self.dimension = dimension
        self.hop_length = hop_length
        self.conv_in = causal_conv(dimension, cfg.dim, cfg.kernel_size)
        self.norm_in = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg) for _ in range(cfg.num_blocks))
        self.norm_out = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.bins = cfg.n_fft // 2 + 1
        # harmonic: + a harmonic/noise mix per bin and the f0
        outputs = 3 * self.bins + 1 if cfg.harmonic else 2 * self.bins * cfg.subframes
        self.head = nn.Linear(cfg.dim, outputs)
        self.istft = CausalISTFT(cfg.n_fft, cfg.synthesis_hop(hop_length))
        self.fundamental: FundamentalPhase | None = None
        self.sample_rate = sample_rate
        # the encoder's pitch channel (latent channel 0 = pitch_scale * log(f0 / 150 Hz)),
        # added to the f0 output: the f0 need not be relearnt from the trunk's features
        self.pitch_scale = pitch_scale if cfg.harmonic else None
        if cfg.harmonic:
            if sample_rate is None:
                raise ValueError("the harmonic source (vocos.harmonic) needs the sample rate")
            self.fundamental = FundamentalPhase(cfg.n_fft, hop_length)
            if pitch_scale is not None:
                with torch.no_grad():  # the f0 starts as the encoder's pitch alone
                    self.head.weight[-1].zero_()
                    self.head.bias[-1].zero_()
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
        return self.forward_with_pitch(x)[0]

    def forward_with_pitch(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``[B, dimension, F]`` -> waveform ``[B, 1, F * hop]`` and, with ``harmonic``, the
        predicted f0 in Hz ``[B, F]`` (the training target of ``loss.pitch``), else None."""
        if x.dim() != 3 or x.shape[1] != self.dimension:
            raise ValueError(
                f"VocosDecoder expects [B, {self.dimension}, F], got shape {tuple(x.shape)}"
            )
        h = self.norm_in(self.conv_in(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        h = self.norm_out(h.transpose(1, 2))
        if self.fundamental is None:  # through `spectrum`, which the ONNX export replaces
            return self.istft(self.spectrum(h)), None
        pitch = x[:, 0] / self.pitch_scale if self.pitch_scale is not None else None
        spectrum, f0 = self.spectrum_and_pitch(h, pitch)
        return self.istft(spectrum), f0

    def spectrum(self, h: Tensor) -> Tensor:
        """Features ``[B, F, dim]`` -> complex spectrum ``[B, n_fft // 2 + 1, F * subframes]``."""
        return self.spectrum_and_pitch(h)[0]  # (without the encoder's pitch channel)

    def spectrum_and_pitch(
        self, h: Tensor, pitch: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Features ``[B, F, dim]`` -> complex spectrum ``[B, n_fft // 2 + 1, F]`` and the f0
        in Hz ``[B, F]`` (None unless ``harmonic``); ``pitch`` ``[B, F]``: the encoder's
        ``log(f0 / 150 Hz)``, added to the head's f0 output.

        In float32 at least: under autocast the head's output is bf16 / fp16, in which exp
        overflows early and torch has no FFT."""
        if self.fundamental is None:
            out = stft_frames(self.head(h), self.bins)
        else:
            # in fixed tiles: the f0 is integrated over the whole stream, where a last-bit
            # difference between chunkings would grow into the harmonics' phase
            out = framewise_linear(h, self.head.weight, self.head.bias)
        out = out.to(torch.promote_types(out.dtype, torch.float32)).transpose(1, 2)
        log_magnitude, phase = out[:, : self.bins], out[:, self.bins : 2 * self.bins]
        if self.vocoder_phase is not None:
            phase = phase + self.vocoder_phase(log_magnitude)
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        # cos / sin rather than torch.polar: the same value, with a plain real backward
        if self.fundamental is None:
            return torch.complex(magnitude * phase.cos(), magnitude * phase.sin()), None
        noise = torch.complex(phase.cos(), phase.sin())
        assert self.sample_rate is not None
        mix = torch.sigmoid(out[:, 2 * self.bins : 3 * self.bins])
        f0_out = out[:, -1] if pitch is None else out[:, -1] + pitch
        f0 = F0_CENTRE * torch.exp(F0_RANGE * torch.tanh(f0_out / F0_RANGE))  # [B, F] Hz
        f0_bins = f0 * (self.cfg.n_fft / self.sample_rate)
        comb = harmonic_spectrum(f0_bins, self.fundamental(f0_bins[:, None]), self.bins)
        return magnitude * (mix * comb + (1 - mix) * noise), f0


def decode_with_pitch(decoder: nn.Module, latent: Tensor) -> tuple[Tensor, Tensor | None]:
    """Any decoder's waveform for ``latent`` and, from a harmonic Vocos decoder, its f0 in Hz
    ``[B, F]`` (None from every other decoder)."""
    if isinstance(decoder, VocosDecoder):
        return decoder.forward_with_pitch(latent)
    return decoder(latent), None
