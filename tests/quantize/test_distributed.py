"""Two gloo processes on CPU: codebooks stay identical and equal one process on all the data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from codec.quantize import BypassConfig, CodebookConfig, GroupedResidualVQ
from tests.quantize.helpers import assert_close, init_gloo, spawn_ranks

WORLD, STEPS = 2, 4
BYPASS = BypassConfig(steps=2, rate=0.5, refit_vectors=30)


def make_model(
    threshold_dead: float, dead_window: int = 0, decay_warmup: int = 0, **kw: Any
) -> GroupedResidualVQ:
    torch.manual_seed(0)
    codebook = CodebookConfig(
        kmeans_iters=3,
        threshold_dead=threshold_dead,
        dead_window=dead_window,
        decay_warmup=decay_warmup,
    )
    return GroupedResidualVQ(8, 2, 3, codebook_size=8, codebook=codebook, **kw)


def rank_batch(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Different data per rank (and a padded tail on rank 1)."""
    gen = torch.Generator().manual_seed(1000 * rank + step)
    x = torch.randn(2, 8, 12, generator=gen) * (1 + rank)
    mask = torch.ones(2, 12, dtype=torch.bool)
    if rank == 1:
        mask[1, 8:] = False
    return x, mask


def _count(name: str, counter: dict[str, int]) -> None:
    original = getattr(dist, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        counter[name] = counter.get(name, 0) + 1
        return original(*args, **kwargs)

    setattr(dist, name, wrapped)


def _worker(rank: int, tmp: str) -> None:
    init_gloo(rank, tmp, WORLD)
    counter: dict[str, int] = {}
    for name in ("all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce"):
        _count(name, counter)
    result: dict[str, Any] = {"collectives": []}
    plain = make_model(threshold_dead=0.0).train()
    for step in range(STEPS):
        before = sum(counter.values())
        x, mask = rank_batch(rank, step)
        plain(x, mask=mask)
        result["collectives"].append(sum(counter.values()) - before)
    result["plain"] = plain.state_dict()
    # dead-code reset forced on (high threshold), a warming EMA decay and per-sample dropout
    busy = make_model(
        threshold_dead=0.9,
        decay_warmup=10,
        dropout_rate=0.7,
        dropout_per_sample=True,
        standardize=True,
    ).train()
    result["dropout"], result["resets"] = [], 0.0
    for step in range(STEPS):
        x, mask = rank_batch(rank, step)
        out = busy(x, mask=mask)
        result["dropout"].append(busy.last_dropout_levels.clone())
        result["resets"] += sum(v.item() for k, v in out.metrics.items() if "/resets/" in k)
    result["busy"] = busy.state_dict()
    # window dead-code detection, a bypass warm-up ending in a k-means refit, then a bypass rate
    warm = make_model(threshold_dead=0.0, dead_window=1, bypass=BYPASS).train()
    result["warm_outputs"] = []
    for step in range(STEPS):
        x, mask = rank_batch(rank, step)
        result["warm_outputs"].append(warm(x, mask=mask).quantized.detach())
    result["warm"] = warm.state_dict()
    torch.save(result, os.path.join(tmp, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ddp")
    spawn_ranks(_worker, str(tmp), WORLD)
    return [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.ddp
@pytest.mark.slow
def test_codebooks_bit_identical_across_ranks(ranks: list[dict[str, Any]]) -> None:
    for key in ("plain", "busy", "warm"):
        a, b = ranks[0][key], ranks[1][key]
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), f"{key}: {name} differs between ranks"
    assert ranks[0]["resets"] > 0  # the reset path really ran under DDP


@pytest.mark.ddp
@pytest.mark.slow
def test_equal_to_one_process_on_the_concatenated_batch(ranks: list[dict[str, Any]]) -> None:
    ref = make_model(threshold_dead=0.0).train()
    for step in range(STEPS):
        parts = [rank_batch(r, step) for r in range(WORLD)]
        ref(torch.cat([p[0] for p in parts]), mask=torch.cat([p[1] for p in parts]))
    got = ranks[0]["plain"]
    for name, value in ref.state_dict().items():
        if value.is_floating_point():
            # k-means sees the same gathered rows: bit-identical; the EMA sums differ only in
            # float summation order (per-rank partial sums, then the all-reduce)
            assert_close(got[name], value, atol=1e-5, rtol=1e-5)
        else:
            assert torch.equal(got[name], value), name


@pytest.mark.ddp
@pytest.mark.slow
def test_one_collective_per_training_step(ranks: list[dict[str, Any]]) -> None:
    counts = ranks[0]["collectives"]
    # step 0 also gathers the k-means data once (sizes + rows); after that exactly one
    # all-reduce per step carries every group's and level's statistics and candidates
    assert counts[0] == 3
    assert counts[1:] == [1] * (STEPS - 1)


@pytest.mark.ddp
@pytest.mark.slow
def test_quantizer_dropout_identical_across_ranks(ranks: list[dict[str, Any]]) -> None:
    draws = [torch.stack(r["dropout"]) for r in ranks]
    assert torch.equal(draws[0], draws[1])
    assert len(set(draws[0].flatten().tolist())) > 1  # dropout really varied


@pytest.mark.ddp
@pytest.mark.slow
def test_bypass_warmup_and_refit_under_ddp(ranks: list[dict[str, Any]]) -> None:
    for rank, result in enumerate(ranks):
        outs = result["warm_outputs"]
        for step in range(BYPASS.steps):  # the warm-up hands the latent through unquantized
            assert torch.equal(outs[step], rank_batch(rank, step)[0])
        assert not torch.equal(outs[BYPASS.steps], rank_batch(rank, BYPASS.steps)[0])
    # the refit saw both ranks' frames: the same codebooks on both (checked above), and not
    # the codebooks a refit on one rank's frames alone would give
    alone = make_model(threshold_dead=0.0, dead_window=1, bypass=BYPASS).train()
    for step in range(STEPS):
        x, mask = rank_batch(0, step)
        alone(x, mask=mask)
    name = "rvqs.0.levels.0.codebook.embedding"
    assert not torch.equal(alone.state_dict()[name], ranks[0]["warm"][name])
