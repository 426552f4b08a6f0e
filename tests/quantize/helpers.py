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
