"""Confidence intervals, summaries and codebook statistics."""

from __future__ import annotations

import math

import pytest
import torch

from codec.eval.statistics import codebook_stats, confidence_interval, summarize


def test_confidence_interval_t_and_bootstrap() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    low, high = confidence_interval(values)  # type: ignore[misc]
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * s / sqrt(n)
    assert (low, high) == pytest.approx((3 - half, 3 + half), abs=1e-5)
    boot = confidence_interval(values, method="bootstrap")
    assert boot is not None and boot[0] < 3 < boot[1] and boot[1] - boot[0] < 2 * half
    assert confidence_interval(values, method="bootstrap") == boot  # seeded
    assert confidence_interval([1.0]) is None
    with pytest.raises(ValueError):
        confidence_interval(values, method="magic")
    stats = summarize(values)
    assert stats["n"] == 5 and stats["mean"] == 3 and stats["median"] == 3
    assert stats["ci_low"] == pytest.approx(3 - half, abs=1e-5)
    assert summarize([])["mean"] is None and summarize([2.0])["ci_low"] is None


def test_codebook_stats() -> None:
    counts = torch.tensor([[5.0, 5.0, 5.0, 5.0], [20.0, 0.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0]])
    uniform, collapsed, half = codebook_stats(counts)
    assert uniform["usage"] == 1 and uniform["entropy_bits"] == pytest.approx(2.0)
    assert uniform["normalized_entropy"] == pytest.approx(1.0)
    assert uniform["perplexity"] == pytest.approx(4.0)
    assert collapsed["usage"] == 0.25 and collapsed["entropy_bits"] == pytest.approx(0.0)
    assert half["usage"] == 0.5 and half["entropy_bits"] == pytest.approx(1.0)
