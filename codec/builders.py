"""Config -> objects: the modules a :mod:`codec.config` schema describes."""

from __future__ import annotations

from torch import nn

from codec.config import CodecConfig, QuantizerConfig
from codec.hifigan.encoder import HiFiGANEncoder
from codec.hifigan.generator import HiFiGANGenerator
from codec.quantize.base import QuantizerBase
from codec.quantize.codebook import EMACodebook
from codec.quantize.fsq import GroupedResidualFSQ
from codec.quantize.grvq import GroupedResidualVQ
from codec.quantize.simvq import SimVQCodebook
from codec.seanet.decoder import SEANetDecoder
from codec.seanet.encoder import SEANetEncoder
from codec.spectral.encoder import PITCH_SCALE, SpectralEncoder
from codec.vocos.decoder import VocosDecoder


def quantizer_from_config(dim: int, cfg: QuantizerConfig) -> QuantizerBase:
    """The quantizer described by ``cfg`` on a ``dim``-channel latent (groups=1: plain
    residual): ``cfg.kind`` picks VQ, SimVQ codebooks or FSQ grids."""
    if cfg.kind == "fsq":
        return GroupedResidualFSQ(
            dim,
            levels=cfg.fsq_levels,
            groups=cfg.groups,
            num_levels=cfg.num_levels,
            codebook=cfg.codebook,
            dropout_rate=cfg.dropout_rate,
            dropout_per_sample=cfg.dropout_per_sample,
            bypass=cfg.bypass,
            standardize=cfg.standardize,
        )
    codebook_type = SimVQCodebook if cfg.kind == "simvq" else EMACodebook
    return GroupedResidualVQ(
        dim,
        groups=cfg.groups,
        num_levels=cfg.num_levels,
        codebook_size=cfg.codebook_size,
        codebook=cfg.codebook,
        dropout_rate=cfg.dropout_rate,
        dropout_per_sample=cfg.dropout_per_sample,
        bypass=cfg.bypass,
        standardize=cfg.standardize,
        codebook_type=codebook_type,
    )


def encoder_from_config(cfg: CodecConfig) -> nn.Module:
    """The encoder of ``cfg.architecture``: waveform ``[B, C, T]`` -> latent ``[B, D, F]``."""
    if cfg.architecture == "hifigan":
        return HiFiGANEncoder(cfg.hifigan)
    if cfg.encoder == "spectral":
        return SpectralEncoder(cfg.spectral, cfg.latent_dim, cfg.hop_length, cfg.sample_rate)
    return SEANetEncoder(cfg.seanet)


def decoder_from_config(cfg: CodecConfig) -> nn.Module:
    """The decoder of ``cfg.architecture`` (or ``cfg.decoder``): latent ``[B, D, F]`` ->
    waveform ``[B, C, F * hop]``."""
    if cfg.architecture == "hifigan":
        return HiFiGANGenerator(cfg.hifigan)
    if cfg.decoder == "vocos":
        pitch = cfg.encoder == "spectral" and cfg.spectral.pitch
        scale = PITCH_SCALE if pitch else None
        return VocosDecoder(cfg.vocos, cfg.latent_dim, cfg.hop_length, cfg.sample_rate, scale)
    return SEANetDecoder(cfg.seanet)
