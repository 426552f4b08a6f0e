"""Config -> objects: the modules a :mod:`codec.config` schema describes."""

from __future__ import annotations

from codec.config import QuantizerConfig
from codec.quantize.grvq import GroupedResidualVQ


def quantizer_from_config(dim: int, cfg: QuantizerConfig) -> GroupedResidualVQ:
    """The quantizer described by ``cfg`` on a ``dim``-channel latent (groups=1: plain RVQ)."""
    return GroupedResidualVQ(
        dim,
        groups=cfg.groups,
        num_levels=cfg.num_levels,
        codebook_size=cfg.codebook_size,
        codebook=cfg.codebook,
        dropout_rate=cfg.dropout_rate,
        dropout_per_sample=cfg.dropout_per_sample,
    )
