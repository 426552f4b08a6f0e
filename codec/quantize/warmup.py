"""Quantizer bypass and the k-means refit that ends its warm-up (see ``BypassConfig``).

Kept out of ``base.py``: a schedule (which frames skip quantization at an update index) and a
ring buffer of recent latent frames, both plain functions of the shared update counter, so
every DDP rank takes the same decisions without communicating.
"""

from __future__ import annotations

import torch
from torch import Tensor

from codec.quantize.config import BypassConfig
from codec.quantize.distributed import World, gather_rows


def bypass_mask(
    cfg: BypassConfig, step: int, batch: int, frames: int, device: torch.device
) -> Tensor | None:
    """Per-frame bypass flags [batch * frames] (1.0 = hand the input through unquantized) for
    training update ``step``, or None when nothing is bypassed. During the warm-up every frame
    is; afterwards whole samples are, each with probability ``cfg.rate`` (seeded by ``step``,
    so all ranks agree)."""
    if step < cfg.steps:
        return torch.ones(batch * frames, device=device)
    if cfg.rate <= 0:
        return None
    gen = torch.Generator().manual_seed(0xB1A5 + 1_000_003 * step)
    per_sample = (torch.rand(batch, generator=gen) < cfg.rate).float()
    if not bool(per_sample.any()):
        return None
    return per_sample.to(device).repeat_interleave(frames)


class RowBuffer:
    """The latest ``capacity`` frames [R, D] a quantizer saw (local to this rank, detached)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.rows: Tensor | None = None

    def add(self, x: Tensor) -> None:
        """Append frames ``x`` [N, D], dropping the oldest beyond ``capacity``."""
        x = x.detach()
        rows = x if self.rows is None else torch.cat([self.rows.to(x.device), x])
        self.rows = rows[-self.capacity :].clone() if rows.shape[0] > self.capacity else rows

    def take(self) -> Tensor | None:
        """The buffered frames, emptying the buffer."""
        rows, self.rows = self.rows, None
        return rows

    def take_all(self, world: World, dim: int, device: torch.device) -> Tensor:
        """Every rank's buffered frames [sum R_r, dim] in rank order (a collective: all ranks
        call it together), emptying the buffer."""
        rows = self.take()
        local = rows if rows is not None else torch.zeros(0, dim, device=device)
        return gather_rows(local, world)

    def __len__(self) -> int:
        return 0 if self.rows is None else int(self.rows.shape[0])
