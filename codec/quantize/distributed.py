"""The quantizer's only collectives: one all-reduce per training step, a gather for k-means.

Everything degrades to a no-op when ``torch.distributed`` is unavailable or not initialised.
Collectives are looked up on ``torch.distributed`` at call time (tests wrap them to count).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from codec.quantize.codebook import EMACodebook


@dataclass(frozen=True)
class World:
    """This process's ``rank`` among ``size`` processes (0 of 1 without torch.distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The default process group, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(rank=dist.get_rank(), size=dist.get_world_size())
    return World()


def all_reduce_sum_(buffer: Tensor, world: World) -> None:
    """In-place SUM all-reduce of ``buffer`` across ``world`` (nothing for a world of one)."""
    if world.distributed:
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)


def gather_rows(x: Tensor, world: World) -> Tensor:
    """Concatenate every rank's ``x`` [N_r, D] in rank order -> [sum N_r, D].

    Two collectives (sizes, then padded rows); used once, for the k-means initialisation.
    """
    if not world.distributed:
        return x
    sizes = torch.zeros(world.size, dtype=torch.long, device=x.device)
    sizes[world.rank] = x.shape[0]
    dist.all_reduce(sizes, op=dist.ReduceOp.SUM)
    counts = sizes.tolist()
    padded = x.new_zeros(world.size, max(counts), x.shape[1])
    padded[world.rank, : x.shape[0]] = x
    dist.all_reduce(padded, op=dist.ReduceOp.SUM)
    return torch.cat([padded[r, :n] for r, n in enumerate(counts)])


def begin_step(
    codebooks: list[EMACodebook],
    world: World,
    device: torch.device,
    training: bool,
    extra: int = 0,
) -> Tensor:
    """Allocate one zeroed flat buffer for every codebook's pending update and attach the views;
    the last ``extra`` floats are left to the caller (they are all-reduced with the rest).

    In eval mode only the counts (for metrics) are collected.
    """
    resets = [training and cb.reset_due() for cb in codebooks]
    sizes = [
        cb.pending_numel(world.size, r) if training else cb.codebook_size
        for cb, r in zip(codebooks, resets)
    ]
    flat = torch.zeros(sum(sizes) + extra, device=device)
    for cb, piece, r in zip(codebooks, flat.split([*sizes, extra]), resets):
        cb.attach_pending(piece, world.rank, world.size, r, counts_only=not training)
    return flat


def finish_step(codebooks: list[EMACodebook], flat: Tensor, world: World) -> list[Tensor]:
    """The step's single all-reduce, then every codebook applies its update.

    Returns the number of codes reset per codebook (0-dim tensors).
    """
    all_reduce_sum_(flat, world)
    return [cb.apply_pending() for cb in codebooks]
