"""The one timer of the benchmarks: median wall time of repeated calls (after warm-up calls),
since these shared machines are noisy and a median resists the slow outliers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_time"]


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Seconds: the median of ``repeats`` timed calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
