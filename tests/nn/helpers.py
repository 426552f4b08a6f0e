"""Helpers shared by the streaming-layer tests (``tests/nn``) and the SEANet tests."""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import torch

from codec.nn.streaming import run_chunked

__all__ = [
    "assert_causal",
    "assert_chunked_matches",
    "assert_close",
    "encodec_modules",
    "one_torch_thread",
]


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 0.0, msg: str = "") -> None:
    """Max-abs comparison (``torch.testing.assert_close`` costs seconds on its first call)."""
    assert got.shape == want.shape, f"{msg} shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() if got.numel() else 0.0
    assert err <= atol, f"{msg} max abs error {err:.3g} > {atol}"


def assert_chunked_matches(
    model: torch.nn.Module,
    x: torch.Tensor,
    sweeps: Iterable[list[int]],
    atol: float = 1e-5,
    label: str = "",
) -> torch.Tensor:
    """Stream ``x`` [B, C, T] through ``model`` with every chunking in ``sweeps``: each must give
    the offline output (returned, for further checks)."""
    ref: torch.Tensor = model(x)
    for sizes in sweeps:
        assert_close(run_chunked(model, x, sizes), ref, atol, f"{label} {sizes}")
    return ref


def assert_causal(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    starts: Iterable[int],
    past_of: Callable[[int], int],
) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """Replace ``x`` [B, C, T] by noise from each start on: the first ``past_of(start)`` outputs
    must not change at all. Returns ``(clean, perturbed, past)`` per start for further checks."""
    results = []
    for t0 in starts:
        y = x.clone()
        y[..., t0:] = torch.randn_like(y[..., t0:])
        past = past_of(t0)
        clean, perturbed = model(x), model(y)
        assert_close(clean[..., :past], perturbed[..., :past], 0, f"perturbed from {t0}")
        results.append((clean, perturbed, past))
    return results


def encodec_modules() -> Any:
    """Import ``encodec.modules`` (skip the test without it) with a throw-away torchaudio
    stand-in: encodec imports torchaudio at package level, which does not import here."""
    stub = "torchaudio" not in sys.modules
    if stub:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pytest.importorskip("encodec.modules")
    finally:
        if stub:
            del sys.modules["torchaudio"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny tensors: intra-op threads only add sync overhead (100x on a loaded 2-core box).

    Autouse wherever a ``conftest.py`` imports it.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
