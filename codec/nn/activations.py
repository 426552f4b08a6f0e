"""Activations used by SEANet: ELU (EnCodec) and Snake (DAC / BigVGAN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Snake", "make_activation"]


class Snake(nn.Module):
    """``x + sin(alpha * x)^2 / alpha`` with a learnable ``alpha`` per channel; ``[B, C, T]``.

    Periodic inductive bias that suits audio; ``alpha`` is stored as ``[1, C, 1]``.
    """

    def __init__(self, channels: int, alpha: float = 1.0, eps: float = 1e-9) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1, channels, 1), float(alpha)))
        # eps keeps 1 / alpha finite if training drives alpha to zero.
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x + (self.alpha + self.eps).reciprocal() * torch.sin(self.alpha * x).pow(2)


def make_activation(name: str, channels: int, inplace: bool = False) -> nn.Module:
    """Build ``elu`` (alpha 1, parameter-free) or ``snake`` (per-channel alpha).

    ``inplace`` (ELU only) overwrites the input: use it where the input is a temporary that
    nothing else reads, to save a pass over memory.
    """
    if name == "elu":
        return nn.ELU(alpha=1.0, inplace=inplace)
    if name == "snake":
        return Snake(channels)
    raise ValueError(f"unknown activation {name!r}; expected 'elu' or 'snake'")
