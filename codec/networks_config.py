"""Frozen dataclasses of the networks a codec is built from (re-exported by ``codec.config``).

SEANet, HiFi-GAN, the Vocos-style decoder and the spectral encoder: layouts only, each checked
on construction with one-line errors naming the config key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codec.choices import PHASE_KINDS

__all__ = ["HiFiGANConfig", "SEANetConfig", "SpectralConfig", "VocosConfig", "choice"]


@dataclass(frozen=True)
class SEANetConfig:
    """SEANet encoder/decoder layout (EnCodec's defaults).

    ``ratios`` are the encoder's downsampling strides in the order EnCodec lists them
    (the encoder applies them reversed, the decoder in this order).
    """

    channels: int = 1
    dimension: int = 128
    n_filters: int = 32
    n_residual_layers: int = 1
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    activation: str = "elu"
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    causal: bool = False
    pad_mode: str = "reflect"
    norm: str = "weight_norm"
    true_skip: bool = False
    compress: int = 2
    lstm_layers: int = 2
    trim_right_ratio: float = 1.0

    def __post_init__(self) -> None:
        choice("seanet.activation", self.activation, ("elu", "snake"))
        choice("seanet.pad_mode", self.pad_mode, ("reflect", "constant", "replicate"))
        choice("seanet.norm", self.norm, ("weight_norm", "none"))
        if not self.ratios or any(r < 1 for r in self.ratios):
            raise ValueError(f"seanet.ratios must be positive integers, got {self.ratios}")

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)


@dataclass(frozen=True)
class HiFiGANConfig:
    """HiFi-Codec's HiFi-GAN-style encoder and generator (AcademiCodec's layout; not streamable).

    ``ratios`` / ``kernel_sizes`` are the generator's upsampling strides and kernels (the
    encoder downsamples with them reversed). Widths: the encoder starts at ``encoder_filters``
    and doubles per stage, the generator starts at ``decoder_filters`` and halves per stage.
    Every stage has one residual block per ``resblock_kernel_sizes`` entry, all with the
    dilations ``resblock_dilations`` (``resblock`` "1": two convs per dilation, "2": one);
    the encoder normalises each block's running sum with a GroupNorm of ``norm_group_size``
    channels per group.
    """

    channels: int = 1
    dimension: int = 512
    encoder_filters: int = 32
    decoder_filters: int = 512
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    kernel_sizes: tuple[int, ...] = (16, 11, 8, 4)
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[int, ...] = (1, 3, 5)
    norm_group_size: int = 16

    def __post_init__(self) -> None:
        choice("hifigan.resblock", self.resblock, ("1", "2"))
        if not self.ratios or any(r < 1 for r in self.ratios):
            raise ValueError(f"hifigan.ratios must be positive integers, got {self.ratios}")
        if len(self.kernel_sizes) != len(self.ratios):
            raise ValueError("hifigan.kernel_sizes must have one entry per hifigan.ratios entry")
        if any(k < r or (k - r) % 2 for k, r in zip(self.kernel_sizes, self.ratios)):
            # (k - r) / 2 padding on each side makes every stage change lengths exactly r-fold
            raise ValueError(
                "hifigan.kernel_sizes minus ratios must be even and >= 0, got "
                f"{self.kernel_sizes} for {self.ratios}"
            )
        if self.decoder_filters % 2 ** len(self.ratios):
            raise ValueError(
                f"hifigan.decoder_filters must be divisible by {2 ** len(self.ratios)} "
                f"(it halves {len(self.ratios)} times), got {self.decoder_filters}"
            )
        if self.norm_group_size < 1 or (2 * self.encoder_filters) % self.norm_group_size:
            raise ValueError(
                "hifigan.norm_group_size must divide 2 * hifigan.encoder_filters, got "
                f"{self.norm_group_size} for encoder_filters={self.encoder_filters}"
            )
        if not self.resblock_kernel_sizes or not self.resblock_dilations:
            raise ValueError("hifigan.resblock_kernel_sizes and resblock_dilations must be set")

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)


@dataclass(frozen=True)
class VocosConfig:
    """Vocos-style decoder: ConvNeXt blocks at the frame rate and an inverse-STFT head.

    The latent ``[B, D, F]`` goes through a causal conv (``kernel_size``) to ``dim`` channels,
    ``num_blocks`` ConvNeXt blocks (causal depthwise conv, LayerNorm, ``dim -> intermediate_dim
    -> dim`` MLP with GELU, layer scale ``layer_scale_init``, residual) and a LayerNorm; a linear
    head gives ``n_fft + 2`` channels per frame: log-magnitude and phase of ``n_fft // 2 + 1``
    bins. ``D`` and the hop come from the encoder. ``n_fft`` must be even and at least twice
    the hop: each frame is synthesised over ``n_fft`` samples starting at its own hop, so the
    defaults (``2 * 320`` at 16 kHz, 50 frames/s) keep what a frame must predict ahead short.
    ``phase``: ``"learned"`` (the head's phase channels, as Vocos) or ``"vocoder"`` (phase
    integrated from the magnitude peaks frame by frame, :mod:`codec.vocos.phase`, plus the head's
    phase channels as a learnt residual that starts at zero). ``harmonic`` (experimental): the head
    also predicts an f0 per frame (50-500 Hz, trained towards YIN's on the input, ``loss.pitch``)
    and a per-bin harmonic/noise mix; the spectrum is the envelope times that mix of an analytic
    comb of harmonics of the f0 (:mod:`codec.vocos.harmonic`) and the learnt-phase noise part;
    with ``spectral.pitch`` the f0 is the encoder's (latent channel 0) plus the head's correction.
    ``subframes``: STFT frames the head predicts per latent frame; the synthesis hop is the
    encoder's hop divided by it (Vocos synthesises at 4x overlap, the default here is 2x).
    Latency is unchanged: a latent frame still completes one encoder hop of samples.
    """

    dim: int = 256
    intermediate_dim: int = 768
    num_blocks: int = 8
    kernel_size: int = 7
    n_fft: int = 640
    layer_scale_init: float = 0.125
    phase: str = "learned"
    harmonic: bool = False
    subframes: int = 1

    def __post_init__(self) -> None:
        check_convnext("vocos", self)
        if self.subframes < 1:
            raise ValueError(f"config key 'vocos.subframes' must be >= 1, got {self.subframes}")
        if self.subframes > 1 and (self.harmonic or self.phase != "learned"):
            raise ValueError(
                "config key 'vocos.subframes' > 1 needs vocos.phase=learned, no harmonic"
            )
        if self.phase not in PHASE_KINDS:
            raise ValueError(
                f"config key 'vocos.phase' must be one of {', '.join(PHASE_KINDS)}, got {self.phase!r}"
            )
        if self.n_fft < 2 or self.n_fft % 2:
            raise ValueError(f"config key 'vocos.n_fft' must be even and >= 2, got {self.n_fft}")
        if self.harmonic and self.phase != "learned":
            raise ValueError("config key 'vocos.harmonic' needs vocos.phase=learned")

    def synthesis_hop(self, hop_length: int) -> int:
        """The iSTFT hop for an encoder hop ``hop_length``: ``hop_length / subframes``, which
        must be whole (checked by CodecConfig at load and by a decoder built without one)."""
        if hop_length % self.subframes:
            raise ValueError(
                f"config key 'vocos.subframes' ({self.subframes}) must divide the hop "
                f"({hop_length})"
            )
        return hop_length // self.subframes


@dataclass(frozen=True)
class SpectralConfig:
    """Spectral encoder (``CodecConfig.encoder = "spectral"``): causal STFT log-magnitudes
    (``n_fft``, hop = the codec's) through a causal conv (``kernel_size``) to ``dim``
    channels, ``num_blocks`` ConvNeXt blocks (``intermediate_dim``, ``layer_scale_init``) and a
    linear map to the latent size ``seanet.dimension``. ``pitch`` (experimental, for the
    harmonic decoder): each frame's YIN f0 and aperiodicity (:func:`codec.pitch.frame_pitch`)
    join its log-magnitudes as two more input channels, and latent channel 0 is
    ``12 log(f0 / 150 Hz)`` on periodic frames (0 elsewhere), where the harmonic decoder reads
    its f0: learning to track pitch through the trunk took far longer than a CPU budget.
    """

    n_fft: int = 640
    dim: int = 256
    intermediate_dim: int = 768
    num_blocks: int = 4
    kernel_size: int = 7
    layer_scale_init: float = 0.125
    pitch: bool = False

    def __post_init__(self) -> None:
        check_convnext("spectral", self)
        if self.n_fft < 1:
            raise ValueError(f"config key 'spectral.n_fft' must be >= 1, got {self.n_fft}")


def check_convnext(prefix: str, cfg: VocosConfig | SpectralConfig) -> None:
    """The ConvNeXt trunk's sizes are >= 1 and its layer scale > 0 (one-line errors)."""
    for key in ("dim", "intermediate_dim", "num_blocks", "kernel_size"):
        value = getattr(cfg, key)
        if value < 1:
            raise ValueError(f"config key '{prefix}.{key}' must be >= 1, got {value}")
    if cfg.layer_scale_init <= 0:
        raise ValueError(
            f"config key '{prefix}.layer_scale_init' must be > 0, got {cfg.layer_scale_init}"
        )


def choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"config key '{key}' must be one of {', '.join(allowed)}, got {value!r}")
