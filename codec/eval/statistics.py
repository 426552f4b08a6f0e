"""Statistics of a report: confidence intervals and summaries of per-utterance scores, and
per-codebook usage over a set."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from codec.quantize.functional import entropy, normalized_entropy, perplexity

__all__ = ["codebook_stats", "confidence_interval", "summarize"]


def confidence_interval(
    values: Sequence[float],
    level: float = 0.95,
    method: str = "t",
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Two-sided confidence interval of the mean: Student t (``method="t"``) or a percentile
    bootstrap (``"bootstrap"``, seeded, so reports are reproducible). ``None`` with fewer than
    two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    mean = float(x.mean())
    if method == "t":
        from scipy import stats  # heavy; only reports need it

        half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * float(x.std(ddof=1))
        half /= math.sqrt(x.size)
        return mean - half, mean + half
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
        low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
        return float(low), float(high)
    raise ValueError(f"CI method must be 't' or 'bootstrap', got {method!r}")


def summarize(values: Sequence[float], level: float = 0.95, method: str = "t") -> dict[str, Any]:
    """``n``, ``mean``, ``std``, ``median``, ``min``, ``max``, ``ci_low``, ``ci_high`` of
    ``values`` (``None`` where undefined)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        keys = ("mean", "std", "median", "min", "max", "ci_low", "ci_high")
        return {"n": 0} | dict.fromkeys(keys)
    ci = confidence_interval(values, level, method)
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "median": float(np.median(x)),
        "min": float(x.min()),
        "max": float(x.max()),
        "ci_low": None if ci is None else ci[0],
        "ci_high": None if ci is None else ci[1],
    }


def codebook_stats(counts: Tensor) -> list[dict[str, float]]:
    """Per codebook of ``counts`` [K, codebook_size]: ``usage`` (fraction of codes used at
    least once), ``entropy_bits``, ``normalized_entropy`` (1 = uniform) and ``perplexity``."""
    counts = counts.double()
    rows = []
    for k in range(counts.shape[0]):
        c = counts[k]
        rows.append(
            {
                "codebook": k,
                "frames": int(c.sum()),
                "usage": float((c > 0).double().mean()),
                "entropy_bits": max(0.0, float(entropy(c)) / math.log(2)),
                "normalized_entropy": float(normalized_entropy(c)),
                "perplexity": float(perplexity(c)),
            }
        )
    return rows
