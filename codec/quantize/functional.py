"""Pure vector-quantisation maths: distances, EMA statistics, dead codes, k-means, entropy, STE.

Every function here is stateless and unit-tested on its own; the modules in this package only
hold buffers and call these. Shapes: ``N`` vectors of dimension ``D``, ``K`` codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class SufficientStats:
    """Per-code vector count ``counts`` [K] and vector sum ``sums`` [K, D]."""

    counts: Tensor
    sums: Tensor


@dataclass
class KMeansResult:
    """Cluster centres ``centroids`` [K, D] and the final cluster sizes ``counts`` [K]."""

    centroids: Tensor
    counts: Tensor


@dataclass
class Replacement:
    """Dead-code replacements, one row per candidate: candidate ``j`` (``vectors[j]`` [D])
    replaces code ``codes[j]`` where ``ok[j]``; rows with ``ok`` False must be ignored."""

    codes: Tensor
    vectors: Tensor
    ok: Tensor


def squared_distances(x: Tensor, embedding: Tensor) -> Tensor:
    """Squared Euclidean distances ``|x - e|^2`` [N, K] between ``x`` [N, D] and ``embedding``
    [K, D], with one matmul (``|x|^2 - 2 x.e + |e|^2``), clamped at 0 against rounding."""
    e_sq = embedding.pow(2).sum(1)
    x_sq = x.pow(2).sum(1, keepdim=True)
    return torch.addmm(e_sq + x_sq, x, embedding.t(), alpha=-2.0).clamp_min_(0.0)


def nearest_code(x: Tensor, embedding: Tensor, embedding_sq: Tensor | None = None) -> Tensor:
    """Index [N] (int64) of the nearest row of ``embedding`` [K, D] for each row of ``x`` [N, D].

    ``|x|^2`` is the same for every code, so the argmin only needs ``|e|^2 - 2 x.e``: one fused
    ``addmm`` and one reduction, no [N, K] temporaries beyond the scores themselves.
    """
    if embedding_sq is None:
        embedding_sq = embedding.pow(2).sum(1)
    scores = torch.addmm(embedding_sq, x, embedding.t(), alpha=-2.0)
    return scores.argmin(dim=1)


def batch_statistics(
    x: Tensor,
    codes: Tensor,
    num_codes: int,
    weights: Tensor | None = None,
    out: SufficientStats | None = None,
) -> SufficientStats:
    """Counts [K] and sums [K, D] of the vectors ``x`` [N, D] assigned to ``codes`` [N].

    ``weights`` [N] (0 for padded frames) keep padding out of the statistics. With ``out`` the
    results are accumulated into its (zeroed) tensors in place, e.g. views of a flat buffer.
    """
    if out is None:
        out = SufficientStats(
            counts=x.new_zeros(num_codes), sums=x.new_zeros(num_codes, x.shape[1])
        )
    if weights is None:
        out.counts.add_(torch.bincount(codes, minlength=num_codes).to(out.counts.dtype))
        out.sums.index_add_(0, codes, x)
    else:
        out.counts.index_add_(0, codes, weights.to(out.counts.dtype))
        out.sums.index_add_(0, codes, x * weights.unsqueeze(1))
    return out


def ema(average: Tensor, value: Tensor, decay: float, out: Tensor | None = None) -> Tensor:
    """Exponential moving average step: ``decay * average + (1 - decay) * value`` (written to
    ``out`` if given, which may be ``average`` itself)."""
    value = value.to(average.dtype)
    if out is None:
        return torch.lerp(average, value, 1.0 - decay)
    return torch.lerp(average, value, 1.0 - decay, out=out)


def warmup_decay(decay: float, update: int, warmup: int) -> float:
    """The EMA decay at update ``update`` (0-based): ``min(decay, (1 + update) / (warmup +
    update))`` when ``warmup`` > 0, else ``decay``. Rises from ``1 / warmup`` towards 1, so early
    averages forget fast and later ones keep ``decay``."""
    if warmup <= 0:
        return decay
    return min(decay, (1 + update) / (warmup + update))


def ema_update(stats: SufficientStats, batch: SufficientStats, decay: float) -> SufficientStats:
    """EMA of the sufficient statistics (never of the centroids, so they stay exact means)."""
    return SufficientStats(
        counts=ema(stats.counts, batch.counts, decay), sums=ema(stats.sums, batch.sums, decay)
    )


def laplace_smoothing(counts: Tensor, epsilon: float) -> Tensor:
    """Counts [K] with ``epsilon`` added to each and rescaled to the same total, so an unused
    code never divides by zero."""
    total = counts.sum()
    return (counts + epsilon) / (total + counts.shape[0] * epsilon) * total


def embedding_from_stats(stats: SufficientStats, epsilon: float) -> Tensor:
    """Centroids [K, D] = sums / Laplace-smoothed counts."""
    return stats.sums / laplace_smoothing(stats.counts, epsilon).unsqueeze(1)


def dead_code_mask(usage: Tensor, threshold: float) -> Tensor:
    """Codes [K] (bool) whose usage is below ``threshold`` times the uniform share
    ``usage.sum() / K``; relative, so independent of batch size and decay."""
    return usage < threshold * usage.sum() / usage.shape[-1]


def stale_code_mask(last_used: Tensor, now: Tensor | int, window: int) -> Tensor:
    """Codes [K] (bool) not assigned a single vector in the last ``window`` updates, given the
    update index ``last_used`` [K] of each code's latest assignment and the current index."""
    return (now - last_used) >= window


def entropy(counts: Tensor) -> Tensor:
    """Entropy in nats of the code distribution ``counts`` [..., K] -> [...]; 0 if empty."""
    p = counts / counts.sum(-1, keepdim=True).clamp_min(1e-12)
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


def normalized_entropy(counts: Tensor) -> Tensor:
    """Entropy divided by ``log K``: 1 for uniform use of all codes [..., K] -> [...]."""
    return entropy(counts) / math.log(max(counts.shape[-1], 2))


def perplexity(counts: Tensor) -> Tensor:
    """``exp(entropy)``: the effective number of codes in use [..., K] -> [...]."""
    return entropy(counts).exp()


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor, q: Tensor) -> Tensor:
        return q.detach().clone()

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: Tensor
    ) -> tuple[Tensor, None]:
        return grad, None


def straight_through(x: Tensor, q: Tensor) -> Tensor:
    """Value of ``q``, gradient of identity to ``x`` (none to ``q``).

    Unlike ``x + (q - x).detach()`` the value is bit-exactly ``q`` (so decode(encode(x)) equals
    the training output) and the gradient is bit-exactly the upstream one.
    """
    return _StraightThrough.apply(x, q)


def masked_mse(a: Tensor, b: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean squared error over [N, D], counting only rows with weight > 0 (weights [N])."""
    if weights is None:
        return F.mse_loss(a, b)
    per_row = (a - b).pow(2).sum(1)
    return (per_row * weights).sum() / (weights.sum() * a.shape[1]).clamp_min(1e-12)


def sample_rows(x: Tensor, num: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Up to ``num`` distinct random rows of ``x`` [N, D], valid (weight > 0) rows first.

    Returns (rows [n, D], their weights [n]) with n = min(num, N); rows beyond the valid ones
    get weight 0. No host synchronisation (the count of valid rows is never read).
    """
    scores = torch.rand(x.shape[0], device=x.device)
    if weights is not None:
        scores = scores + (weights > 0).to(scores.dtype)
    idx = scores.topk(min(num, x.shape[0])).indices
    w = (
        x.new_ones(idx.shape[0])
        if weights is None
        else (weights.index_select(0, idx) > 0).to(x.dtype)
    )
    return x.index_select(0, idx), w


def plan_replacement(dead: Tensor, candidates: Tensor, valid: Tensor) -> Replacement:
    """Give the i-th dead code (in index order) the i-th valid candidate.

    ``dead`` [K] bool, ``candidates`` [M, D], ``valid`` [M] bool. Dead codes beyond the number
    of valid candidates wait for a later step. Works on the M candidates, never on [K, D], is
    deterministic and free of host syncs, so every rank derives the same plan from the same
    all-reduced candidates.
    """
    order = torch.argsort((~valid).to(torch.int8), stable=True)  # valid first, order kept
    dead_codes = torch.argsort((~dead).to(torch.int8), stable=True)  # dead first, in order
    m = min(candidates.shape[0], dead.shape[0])
    j = torch.arange(m, device=dead.device)
    ok = (j < valid.long().sum()) & (j < dead.long().sum())
    vectors = candidates.index_select(0, order[:m])
    return Replacement(codes=dead_codes[:m], vectors=vectors, ok=ok)


def apply_replacement_(table: Tensor, plan: Replacement, values: Tensor) -> None:
    """Write ``values`` [M, ...] into rows ``plan.codes`` of ``table`` [K, ...] where
    ``plan.ok``; other rows stay bit-identical (they receive an exact zero delta)."""
    ok = plan.ok.view(-1, *([1] * (table.ndim - 1))).to(table.dtype)
    table.index_add_(0, plan.codes, (values - table.index_select(0, plan.codes)) * ok)


def kmeans_plusplus(x: Tensor, num_clusters: int, generator: torch.Generator | None) -> Tensor:
    """k-means++ seeding [K, D]: each next centre drawn with probability ~ squared distance."""
    first = torch.randint(x.shape[0], (1,), generator=generator, device=x.device)
    centres = [x[first]]
    min_d = squared_distances(x, centres[0]).squeeze(1)
    for _ in range(num_clusters - 1):
        # the tiny floor keeps multinomial valid when every point already is a centre
        idx = torch.multinomial(min_d + 1e-12, 1, generator=generator)
        centres.append(x[idx])
        min_d = torch.minimum(min_d, squared_distances(x, centres[-1]).squeeze(1))
    return torch.cat(centres)


def kmeans(
    x: Tensor,
    num_clusters: int,
    iters: int = 10,
    init: Literal["kmeans++", "random"] = "kmeans++",
    normalize: bool = False,
    generator: torch.Generator | None = None,
) -> KMeansResult:
    """Lloyd's k-means of ``x`` [N, D] into ``num_clusters`` centres.

    ``normalize`` assigns by cosine similarity (centres stay plain means). An empty cluster is
    re-seeded with the point farthest from its centre, so no centre is wasted. With fewer
    points than clusters, points are reused (duplicates become empty and are re-seeded).
    """
    if x.shape[0] == 0:
        raise ValueError("k-means needs at least one vector")
    x = x.float()
    xs = F.normalize(x, dim=1) if normalize else x
    if init == "random" or x.shape[0] <= num_clusters:
        n = x.shape[0]
        perm = torch.randperm(n, generator=generator, device=x.device)
        centroids = x[perm[torch.arange(num_clusters, device=x.device) % n]]
    else:
        centroids = kmeans_plusplus(xs, num_clusters, generator)
        if normalize:  # seeds came from normalised points; use the raw points' positions
            centroids = x[nearest_code(centroids, xs)]
    counts = x.new_zeros(num_clusters)
    for _ in range(iters + 1):
        ref = F.normalize(centroids, dim=1) if normalize else centroids
        codes = nearest_code(xs, ref)
        stats = batch_statistics(x, codes, num_clusters)
        counts = stats.counts
        if _ == iters:
            break
        means = stats.sums / counts.clamp_min(1.0).unsqueeze(1)
        far = (xs - ref[codes]).pow(2).sum(1)
        plan = plan_replacement(counts == 0, x[far.argsort(descending=True)], far >= 0)
        centroids = means
        apply_replacement_(centroids, plan, plan.vectors)
    return KMeansResult(centroids=centroids, counts=counts)
