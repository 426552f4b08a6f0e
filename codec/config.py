"""Frozen dataclasses: the model schema and the Hydra structured-config schema.

The core package never sees a ``DictConfig``; ``codec.builders`` turns these into modules.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from codec.config_check import check_field
from codec.networks_config import (
    HiFiGANConfig,
    SEANetConfig,
    SpectralConfig,
    VocosConfig,
    choice,
)
from codec.quantize.config import BypassConfig, CodebookConfig

__all__ = [
    "PRESETS",
    "CodecConfig",
    "HiFiGANConfig",
    "QuantizerConfig",
    "SEANetConfig",
    "SpectralConfig",
    "VocosConfig",
]


#: encoders of architecture seanet
ENCODERS = ("seanet", "spectral")

#: encoder/decoder architectures a CodecConfig can select
ARCHITECTURES = ("seanet", "hifigan")
#: decoders of architecture seanet: its own, or the Vocos-style one
DECODERS = ("seanet", "vocos")


#: quantizer kinds a QuantizerConfig can select
QUANTIZER_KINDS = ("vq", "simvq", "fsq")


@dataclass(frozen=True)
class QuantizerConfig:
    """Residual (``groups == 1``) or group-residual quantizer.

    Codes are ``[B, groups * num_levels, T]``, group-major. ``kind``: ``vq`` (learnt codebooks),
    ``simvq`` (each codebook a learnt linear map of a frozen random basis) or ``fsq`` (finite
    scalar quantization on the grid ``fsq_levels``; ``codebook_size`` must be their product).
    Every codebook of every group and level shares the settings in ``codebook`` (see
    :class:`CodebookConfig`; FSQ uses only its ``decay`` and ``threshold_dead``, for metrics).
    ``bypass`` is the warm-up without quantization and its k-means refit
    (:class:`BypassConfig`); ``standardize`` quantizes per-channel standardized latents (running
    statistics, ``codec/quantize/standardize.py``). Training weights of the quantizer's losses
    are not here: they belong to the trainer's loss config. Configs written before ``kind``
    existed load as ``vq``.
    """

    groups: int = 1
    num_levels: int = 8
    codebook_size: int = 1024
    codebook: CodebookConfig = field(default_factory=CodebookConfig)
    dropout_rate: float = 0.0
    dropout_per_sample: bool = False
    bypass: BypassConfig = field(default_factory=BypassConfig)
    standardize: bool = False
    kind: str = "vq"
    fsq_levels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        choice("quantizer.kind", self.kind, QUANTIZER_KINDS)
        if self.kind != "fsq":
            if self.fsq_levels:
                raise ValueError(
                    f"config key 'quantizer.fsq_levels' is only used with kind=fsq "
                    f"(kind={self.kind!r}); leave it empty"
                )
            return
        if not self.fsq_levels or any(v < 2 for v in self.fsq_levels):
            raise ValueError(
                "config key 'quantizer.fsq_levels' must list the values per dimension, each "
                f">= 2, e.g. [8, 5, 5, 5]; got {list(self.fsq_levels)}"
            )
        size = math.prod(self.fsq_levels)
        if self.codebook_size != size:
            raise ValueError(
                f"config key 'quantizer.codebook_size' must equal the product of "
                f"quantizer.fsq_levels {list(self.fsq_levels)} = {size} with kind=fsq, "
                f"got {self.codebook_size}"
            )

    @property
    def num_codebooks(self) -> int:
        return self.groups * self.num_levels

    @property
    def layout_text(self) -> str:
        """E.g. ``2 group(s) x 2 levels x 1000 codes (fsq 8x5x5x5)``; plain VQ names no kind."""
        text = f"{self.groups} group(s) x {self.num_levels} levels x {self.codebook_size} codes"
        if self.kind == "fsq":
            return f"{text} (fsq {'x'.join(map(str, self.fsq_levels))})"
        return text if self.kind == "vq" else f"{text} ({self.kind})"


@dataclass(frozen=True)
class CodecConfig:
    """A whole codec: sample rate, encoder/decoder layout and quantizer.

    ``architecture`` picks the encoder/decoder: ``seanet`` (ours, streamable; configured by
    ``seanet``) or ``hifigan`` (HiFi-Codec's, offline only; configured by ``hifigan``). The
    other block is ignored. Configs written before the choice existed load as ``seanet``.
    ``decoder`` picks the waveform decoder of architecture ``seanet``: its own (``seanet``) or
    the Vocos-style one (``vocos``, configured by ``vocos``, mono only; it streams). HiFi-GAN
    models always use their generator. ``encoder`` likewise picks SEANet's waveform encoder
    (``seanet``) or the spectral one (``spectral``, configured by ``spectral``; mono, causal,
    streams); hop and latent size stay ``seanet``'s. Configs without these keys load as
    ``seanet``.
    """

    sample_rate: int = 24000
    seanet: SEANetConfig = field(default_factory=SEANetConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    model_id: str = "codec"
    architecture: str = "seanet"
    hifigan: HiFiGANConfig = field(default_factory=HiFiGANConfig)
    decoder: str = "seanet"
    vocos: VocosConfig = field(default_factory=VocosConfig)
    encoder: str = "seanet"
    spectral: SpectralConfig = field(default_factory=SpectralConfig)

    def __post_init__(self) -> None:
        choice("architecture", self.architecture, ARCHITECTURES)
        choice("decoder", self.decoder, DECODERS)
        choice("encoder", self.encoder, ENCODERS)
        if self.decoder == "vocos":
            self._check_vocos()
        if self.encoder == "spectral":
            self._check_spectral()
        if self.architecture == "hifigan" and self.seanet.causal:
            # code outside the model asks seanet.causal whether a codec streams
            raise ValueError(
                "config key 'seanet.causal' must be false with architecture=hifigan "
                "(the HiFi-GAN encoder/decoder does not stream)"
            )

    def _check_spectral(self) -> None:
        if self.architecture != "seanet" or self.seanet.channels != 1:
            raise ValueError(
                "config key 'encoder' can be spectral only with architecture=seanet and "
                f"seanet.channels=1, got {self.architecture} with {self.seanet.channels} channel(s)"
            )
        if self.spectral.n_fft < self.hop_length:
            raise ValueError(
                f"config key 'spectral.n_fft' must be at least the hop length {self.hop_length}, "
                f"got {self.spectral.n_fft}"
            )

    def _check_vocos(self) -> None:
        if self.architecture != "seanet":
            raise ValueError(
                f"config key 'decoder' can be vocos only with architecture=seanet, got "
                f"architecture={self.architecture}"
            )
        if self.seanet.channels != 1:
            raise ValueError(
                f"decoder=vocos is mono: config key 'seanet.channels' must be 1, got "
                f"{self.seanet.channels}"
            )
        if self.vocos.n_fft < 2 * self.hop_length:
            raise ValueError(
                f"config key 'vocos.n_fft' must be at least twice the hop length "
                f"{self.hop_length}, got {self.vocos.n_fft}"
            )
        self.vocos.synthesis_hop(self.hop_length)

    @property
    def hop_length(self) -> int:
        return self.hifigan.hop_length if self.architecture == "hifigan" else self.seanet.hop_length

    @property
    def channels(self) -> int:
        """Audio channels of the selected architecture."""
        return self.hifigan.channels if self.architecture == "hifigan" else self.seanet.channels

    @property
    def latent_dim(self) -> int:
        """Channels D of the latent ``[B, D, F]`` the quantizer sees."""
        if self.architecture == "hifigan":
            return self.hifigan.dimension
        return self.seanet.dimension

    @property
    def causal(self) -> bool:
        """Whether frames depend on past audio only (so the codec can stream)."""
        return self.architecture == "seanet" and self.seanet.causal

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodecConfig:
        """Build from a plain dict, refusing unknown keys and wrong types with a clear message.

        Older exports kept the codebook settings flat in ``quantizer`` (plus loss weights that
        now belong to training); they are read too."""
        return _from_dict(cls, migrate_legacy(data), "")


#: quantizer-level keys of older exports that are no longer part of the model
REMOVED_QUANTIZER_KEYS = ("commitment_weight", "codebook_weight")


def migrate_legacy(data: Any) -> Any:
    """``data`` with a flat legacy ``quantizer`` mapping rewritten to the nested form:
    codebook keys move into ``quantizer.codebook``, the removed loss weights are dropped. A
    mapping that already has ``codebook`` is left alone (mixed forms fail as unknown keys)."""
    quantizer = data.get("quantizer") if isinstance(data, dict) else None
    if not isinstance(quantizer, dict) or "codebook" in quantizer:
        return data
    names = {f.name for f in dataclasses.fields(CodebookConfig)}
    codebook = {k: v for k, v in quantizer.items() if k in names}
    rest = {
        k: v for k, v in quantizer.items() if k not in names and k not in REMOVED_QUANTIZER_KEYS
    }
    if len(rest) == len(quantizer):
        return data
    return {**data, "quantizer": {**rest, "codebook": codebook}}


def _from_dict(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(
            f"config '{path or cls.__name__}' must be a mapping, got {type(data).__name__}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f" in '{path}'" if path else ""
        raise ValueError(
            f"unknown config key(s){where}: {', '.join(unknown)}; allowed: {', '.join(fields)}"
        )
    kwargs: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = _from_dict(hints[name], value, key)
        else:
            kwargs[name] = check_field(key, value, hints[name])
    return cls(**kwargs)


PRESETS: dict[str, CodecConfig] = {
    # EnCodec 24 kHz: ratios 8*5*4*2 = 320, 75 frames/s, 32 levels x 1024 (1.5 to 24 kbps).
    "encodec_24khz": CodecConfig(
        sample_rate=24000,
        seanet=SEANetConfig(causal=True, true_skip=False),
        quantizer=QuantizerConfig(num_levels=32, codebook_size=1024),
        model_id="encodec_24khz",
    ),
    # HiFi-Codec-like 16 kHz: hop 320, 50 frames/s, GRVQ 2 groups x 2 levels x 1024 = 2 kbps.
    "hificodec_16k": CodecConfig(
        sample_rate=16000,
        seanet=SEANetConfig(ratios=(8, 5, 4, 2), dimension=512, causal=True),
        quantizer=QuantizerConfig(groups=2, num_levels=2, codebook_size=1024),
        model_id="hificodec_16k",
    ),
}
