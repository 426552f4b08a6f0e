"""SimVQ and FSQ on two gloo processes: parameters, buffers and metrics stay identical across
ranks, the usage metrics are global, and the quantizer still all-reduces once per step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from codec.quantize import CodebookConfig, GroupedResidualFSQ, GroupedResidualVQ, SimVQCodebook
from codec.quantize.base import QuantizerBase
from tests.quantize.helpers import assert_close, init_gloo, spawn_ranks

WORLD, STEPS = 2, 3
KINDS = ("simvq", "fsq")


def make(kind: str) -> QuantizerBase:
    torch.manual_seed(0)
    codebook = CodebookConfig(kmeans_iters=2, decay=0.5)
    if kind == "fsq":  # 4 channels per group -> 3 FSQ dimensions: projections are trained
        return GroupedResidualFSQ(8, (4, 3, 3), groups=2, num_levels=2, codebook=codebook)
    return GroupedResidualVQ(
        8, 2, 2, codebook_size=8, codebook=codebook, codebook_type=SimVQCodebook
    )


def rank_batch(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Different data per rank (and a padded tail on rank 1)."""
    gen = torch.Generator().manual_seed(1000 * rank + step)
    x = torch.randn(2, 8, 12, generator=gen) * (1 + rank)
    mask = torch.ones(2, 12, dtype=torch.bool)
    if rank == 1:
        mask[1, 8:] = False
    return x, mask


def train_step(
    q: QuantizerBase,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    mask: torch.Tensor,
    calls: list[int] | None = None,
) -> dict[str, torch.Tensor]:
    """One step as DDP does it: forward, backward, gradients averaged over the ranks. With
    ``calls`` (a live all-reduce counter) the forward's count is appended after its first item."""
    out = q(x, mask=mask)
    if calls is not None:
        calls.append(calls[0])
    opt.zero_grad()
    (out.loss + out.quantized.pow(2).mean()).backward()
    if dist.is_initialized():
        for p in q.parameters():
            assert p.grad is not None
            dist.all_reduce(p.grad)
            p.grad /= dist.get_world_size()
    opt.step()
    return out.metrics


def _worker(rank: int, tmp: str) -> None:
    init_gloo(rank, tmp, WORLD)
    original = dist.all_reduce
    calls = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    dist.all_reduce = counted  # type: ignore[assignment]
    result: dict[str, Any] = {}
    for kind in KINDS:
        q = make(kind).train()
        opt = torch.optim.SGD(q.parameters(), lr=0.1)
        metrics, forward_calls = [], []
        for step in range(STEPS):
            x, mask = rank_batch(rank, step)
            calls[:] = [0]
            metrics.append(train_step(q, opt, x, mask, calls))
            forward_calls.append(calls[1])
        result[kind] = {"state": q.state_dict(), "metrics": metrics, "calls": forward_calls}
    dist.all_reduce = original
    torch.save(result, os.path.join(tmp, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ddp_kinds")
    spawn_ranks(_worker, str(tmp), WORLD)
    return [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_parameters_buffers_and_metrics_identical_across_ranks(
    ranks: list[dict[str, Any]], kind: str
) -> None:
    a, b = ranks[0][kind], ranks[1][kind]
    assert a["state"].keys() == b["state"].keys()
    for name in a["state"]:
        assert torch.equal(a["state"][name], b["state"][name]), f"{kind}: {name} differs"
    for ma, mb in zip(a["metrics"], b["metrics"]):
        assert ma.keys() == mb.keys()
        for key in ma:
            assert torch.equal(ma[key], mb[key]), f"{kind}: {key} differs between ranks"


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_equal_to_one_process_on_the_concatenated_batch(
    ranks: list[dict[str, Any]], kind: str
) -> None:
    """Usage metrics are global: equal to one process on both ranks' data. FSQ's loss has no
    per-rank masked mean, so its averaged gradients are the whole batch's and every step
    matches; SimVQ's masked codebook loss weighs the ranks' frames differently, so only its
    first step (same init from the gathered rows, same codes) is compared."""
    ref = make(kind).train()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    steps = STEPS if kind == "fsq" else 1
    for step in range(steps):
        parts = [rank_batch(r, step) for r in range(WORLD)]
        x, mask = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        metrics = train_step(ref, opt, x, mask)
        got = ranks[0][kind]["metrics"][step]
        for name, value in metrics.items():
            if name.split("/")[1] in ("usage", "perplexity", "entropy", "dead"):
                assert_close(got[name], value, atol=1e-5, rtol=1e-5)
    if kind == "fsq":
        for name, value in ref.state_dict().items():
            assert_close(ranks[0][kind]["state"][name].float(), value.float(), atol=1e-5)


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_one_collective_per_forward(ranks: list[dict[str, Any]], kind: str) -> None:
    calls = ranks[0][kind]["calls"]
    # SimVQ's first step also gathers the init data (sizes + rows, two all-reduces)
    first = 3 if kind == "simvq" else 1
    assert calls == [first] + [1] * (STEPS - 1)
