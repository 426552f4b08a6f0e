"""Configs and EnCodec conversion shared by the SEANet encoder, decoder and block tests."""

from __future__ import annotations

from typing import Any

import torch

from codec.config import SEANetConfig

__all__ = ["TINY", "encodec_kwargs", "from_encodec"]

# Causal, zero padded, hop 8, 8-dim latent: small enough for exhaustive chunk sweeps.
TINY = SEANetConfig(
    n_filters=4, dimension=8, ratios=(4, 2), lstm_layers=1, causal=True, pad_mode="constant"
)


def from_encodec(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an EnCodec SEANet state dict to ours (keys only)."""
    out = {}
    for key, value in state.items():
        key = "layers." + key.removeprefix("model.")
        key = key.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".convtr.")
        key = key.replace("weight_g", "parametrizations.weight.original0")
        key = key.replace("weight_v", "parametrizations.weight.original1")
        out[key] = value
    return out


def encodec_kwargs(cfg: SEANetConfig) -> dict[str, Any]:
    """Keyword arguments of EnCodec's ``SEANetEncoder`` / ``SEANetDecoder`` for ``cfg``."""
    return dict(
        channels=cfg.channels,
        dimension=cfg.dimension,
        n_filters=cfg.n_filters,
        n_residual_layers=cfg.n_residual_layers,
        ratios=list(cfg.ratios),
        kernel_size=cfg.kernel_size,
        last_kernel_size=cfg.last_kernel_size,
        residual_kernel_size=cfg.residual_kernel_size,
        dilation_base=cfg.dilation_base,
        causal=cfg.causal,
        pad_mode=cfg.pad_mode,
        true_skip=cfg.true_skip,
        compress=cfg.compress,
        lstm=cfg.lstm_layers,
    )
