"""Shared test helpers (torch.testing is avoided: its first import costs seconds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from codec.quantize import QuantizerBase, QuantizerOutput

Q = TypeVar("Q", bound=QuantizerBase)


def assert_close(
    actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5
) -> None:
    """allclose with a readable failure message."""
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    if not torch.allclose(actual, expected, atol=atol, rtol=rtol):
        err = (actual - expected).abs().max().item()
        raise AssertionError(f"max abs difference {err:.3g} (atol={atol}, rtol={rtol})")


def trained(make: Callable[[], Q], steps: int, batch: int, frames: int) -> Q:
    """The quantizer ``make()`` builds (seeded) after ``steps`` training passes on random
    ``[batch, dim, frames]`` latents (k-means init on the first)."""
    torch.manual_seed(0)
    q = make()
    q.train()
    for _ in range(steps):
        q(torch.randn(batch, q.dim, frames))
    return q


def assert_straight_through(q: QuantizerBase, x: torch.Tensor) -> QuantizerOutput:
    """The gradient reaching ``x`` [B, D, T] through ``q(x).quantized`` is exactly the upstream
    gradient (no projection: the straight-through estimator is an identity); returns q(x)."""
    x = x.detach().requires_grad_(True)
    out = q(x)
    g = torch.randn_like(out.quantized)
    out.quantized.backward(g)
    assert x.grad is not None and torch.equal(x.grad, g)
    return out


def spawn_ranks(worker: Callable[[int, str], None], tmp: str, world: int = 2) -> None:
    """Run ``worker(rank, tmp)`` in ``world`` processes (fork where the platform has it: the
    children reuse the imported torch, where a spawned child re-imports it for seconds)."""
    import torch.multiprocessing as mp

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(worker, args=(tmp,), nprocs=world, join=True, start_method=method)


def init_gloo(rank: int, tmp: str, world: int = 2) -> None:
    """Join a ``world``-process gloo group through a rendezvous file in ``tmp`` (one thread)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world
    )
