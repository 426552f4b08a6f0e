from __future__ import annotations

import math

import pytest
import torch

from codec.quantize import functional as Fq
from tests.quantize.helpers import assert_close


def test_squared_distances_match_cdist() -> None:
    torch.manual_seed(0)
    x, e = torch.randn(50, 8), torch.randn(20, 8)
    assert_close(Fq.squared_distances(x, e), torch.cdist(x, e).pow(2), atol=1e-4, rtol=1e-4)


def test_nearest_code_is_brute_force_argmin() -> None:
    torch.manual_seed(0)
    x, e = torch.randn(200, 16), torch.randn(64, 16)
    brute = (x.unsqueeze(1) - e.unsqueeze(0)).pow(2).sum(-1).argmin(1)
    codes = Fq.nearest_code(x, e)
    assert codes.dtype == torch.int64
    assert torch.equal(codes, brute)


def test_batch_statistics_with_weights_ignore_padded_rows() -> None:
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [100.0, 100.0], [0.0, 2.0]])
    codes = torch.tensor([0, 0, 1, 2])
    w = torch.tensor([1.0, 1.0, 0.0, 1.0])
    s = Fq.batch_statistics(x, codes, 3, w)
    assert torch.equal(s.counts, torch.tensor([2.0, 0.0, 1.0]))
    assert torch.equal(s.sums, torch.tensor([[4.0, 0.0], [0.0, 0.0], [0.0, 2.0]]))
    plain = Fq.batch_statistics(x[[0, 1, 3]], codes[[0, 1, 3]], 3)
    assert torch.equal(plain.counts, s.counts) and torch.equal(plain.sums, s.sums)


def test_ema_and_in_place_form_agree() -> None:
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])
    expected = 0.9 * a + 0.1 * b
    assert_close(Fq.ema(a, b, 0.9), expected)
    Fq.ema(a, b, 0.9, out=a)
    assert_close(a, expected)


def test_warmup_decay_rises_to_the_decay() -> None:
    assert Fq.warmup_decay(0.95, 0, 0) == 0.95 and Fq.warmup_decay(0.95, 7, 0) == 0.95
    rule = [Fq.warmup_decay(0.95, t, 10) for t in range(400)]
    assert rule[0] == pytest.approx(0.1) and rule[10] == pytest.approx(11 / 20)
    assert all(a <= b for a, b in zip(rule, rule[1:], strict=False))  # never falls
    assert max(rule) == 0.95 and rule[-1] == 0.95  # capped at the configured decay


def test_ema_update_of_statistics() -> None:
    stats = Fq.SufficientStats(torch.tensor([2.0]), torch.tensor([[4.0]]))
    batch = Fq.SufficientStats(torch.tensor([4.0]), torch.tensor([[20.0]]))
    new = Fq.ema_update(stats, batch, 0.5)
    assert torch.equal(new.counts, torch.tensor([3.0])) and torch.equal(
        new.sums, torch.tensor([[12.0]])
    )


def test_laplace_smoothing_keeps_total_and_avoids_zero() -> None:
    counts = torch.tensor([10.0, 0.0, 5.0])
    smoothed = Fq.laplace_smoothing(counts, 1e-3)
    assert_close(smoothed.sum(), counts.sum())
    assert (smoothed > 0).all()
    emb = Fq.embedding_from_stats(
        Fq.SufficientStats(counts, torch.tensor([[20.0], [0.0], [5.0]])), 1e-5
    )
    assert_close(emb, torch.tensor([[2.0], [0.0], [1.0]]), atol=1e-4, rtol=1e-4)


def test_dead_code_mask_is_relative_to_uniform_usage() -> None:
    usage = torch.tensor([100.0, 100.0, 0.5, 99.5])  # uniform share = 75
    assert torch.equal(Fq.dead_code_mask(usage, 0.1), torch.tensor([False, False, True, False]))
    # independent of the scale of the counts (batch size)
    assert torch.equal(Fq.dead_code_mask(usage * 1000, 0.1), Fq.dead_code_mask(usage, 0.1))


def test_entropy_and_perplexity() -> None:
    uniform, single = torch.ones(8), torch.tensor([5.0, 0, 0, 0, 0, 0, 0, 0])
    assert_close(Fq.entropy(uniform), torch.tensor(math.log(8)))
    assert_close(Fq.normalized_entropy(uniform), torch.tensor(1.0))
    assert_close(Fq.perplexity(uniform), torch.tensor(8.0))
    assert_close(Fq.perplexity(single), torch.tensor(1.0))
    assert Fq.entropy(torch.zeros(4)).item() == 0.0
    assert Fq.perplexity(torch.ones(2, 4)).shape == (2,)


def test_straight_through_value_and_gradient_are_exact() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3, requires_grad=True)
    q = torch.randn(5, 3, requires_grad=True)
    y = Fq.straight_through(x, q)
    assert torch.equal(y, q)
    g = torch.randn(5, 3)
    y.backward(g)
    assert torch.equal(x.grad, g)
    assert q.grad is None


def test_masked_mse_counts_only_weighted_rows() -> None:
    a = torch.tensor([[1.0, 1.0], [10.0, 10.0]])
    b = torch.zeros(2, 2)
    assert Fq.masked_mse(a, b, torch.tensor([1.0, 0.0])).item() == 1.0
    assert Fq.masked_mse(a, b).item() == pytest.approx(50.5)


def test_sample_rows_prefers_valid_rows() -> None:
    torch.manual_seed(0)
    x = torch.arange(10.0).unsqueeze(1)
    w = torch.zeros(10)
    w[[2, 7]] = 1.0
    rows, valid = Fq.sample_rows(x, 4, w)
    assert set(rows[valid > 0].squeeze(1).tolist()) == {2.0, 7.0}
    assert valid.sum().item() == 2
    rows, valid = Fq.sample_rows(x, 20)
    assert rows.shape == (10, 1) and valid.sum().item() == 10
    assert sorted(rows.squeeze(1).tolist()) == list(range(10))


def test_plan_and_apply_replacement() -> None:
    dead = torch.tensor([False, True, False, True, True])
    cands = torch.tensor([[10.0], [20.0], [30.0]])
    valid = torch.tensor([False, True, True])
    plan = Fq.plan_replacement(dead, cands, valid)
    table = torch.zeros(5, 1) + torch.arange(5.0).unsqueeze(1)
    Fq.apply_replacement_(table, plan, plan.vectors)
    # dead codes 1 and 3 get the two valid candidates in order; code 4 waits
    assert table.squeeze(1).tolist() == [0.0, 20.0, 2.0, 30.0, 4.0]
    assert plan.ok.sum().item() == 2


def _mixture(n_per: int, centres: torch.Tensor, std: float) -> torch.Tensor:
    return (
        centres.unsqueeze(1) + std * torch.randn(centres.shape[0], n_per, centres.shape[1])
    ).reshape(-1, centres.shape[1])


def test_kmeans_recovers_separated_clusters() -> None:
    torch.manual_seed(0)
    centres = torch.randn(6, 4) * 10
    x = _mixture(50, centres, 0.1)
    res = Fq.kmeans(x, 6, iters=10, generator=torch.Generator().manual_seed(0))
    d = Fq.squared_distances(centres, res.centroids).min(1).values
    assert (d < 0.05).all()
    assert res.counts.sum().item() == 300


def test_kmeans_handles_fewer_points_than_clusters_and_duplicates() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3).repeat(4, 1)  # 5 distinct points, 20 rows, 8 clusters
    res = Fq.kmeans(x, 8, iters=5, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(res.centroids).all()
    assert res.counts.sum().item() == 20
    # every distinct point is a centre (empty clusters were re-seeded on far points)
    assert (Fq.squared_distances(x, res.centroids).min(1).values < 1e-8).all()


def test_kmeans_distortion_below_random_init() -> None:
    torch.manual_seed(0)
    x = _mixture(40, torch.randn(16, 8) * 3, 0.5)
    gen = torch.Generator().manual_seed(1)
    random = x[torch.randperm(x.shape[0], generator=gen)[:16]]
    res = Fq.kmeans(x, 16, iters=10, generator=gen)
    distortion = Fq.squared_distances(x, res.centroids).min(1).values.mean()
    assert distortion < 0.7 * Fq.squared_distances(x, random).min(1).values.mean()
    cosine = Fq.kmeans(x, 16, iters=3, init="random", normalize=True, generator=gen)
    assert cosine.centroids.shape == (16, 8) and cosine.counts.sum().item() == x.shape[0]


def test_stale_code_mask_counts_updates_since_last_use() -> None:
    last_used = torch.tensor([0, 3, 5, 7])
    assert Fq.stale_code_mask(last_used, 7, window=3).tolist() == [True, True, False, False]
    assert Fq.stale_code_mask(last_used, torch.tensor(7), window=1).tolist() == [
        True,
        True,
        True,
        False,
    ]
