"""The report's figure: each metric against nominal bitrate, one line per system family."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codec.eval.scores import METRICS
from codec.fileio import atomic_path

if TYPE_CHECKING:
    from codec.eval.report import EvalReport, SystemResult

__all__ = ["PLOT_METRICS", "plot_report"]

PLOT_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "mel_distance")


def _points(members: list[SystemResult], metric: str) -> list[tuple[float, float, float, float]]:
    """(kbps, mean, mean - CI low, CI high - mean) of each scored system, by bitrate."""
    points = []
    for r in members:
        stats = r.summary.get(metric) or {}
        rate = r.bitrate.get("nominal") or r.bitrate.get("file")
        if stats.get("mean") is None or not rate:
            continue
        low = stats["ci_low"] if stats.get("ci_low") is not None else stats["mean"]
        high = stats["ci_high"] if stats.get("ci_high") is not None else stats["mean"]
        points.append((rate / 1000, stats["mean"], stats["mean"] - low, high - stats["mean"]))
    return sorted(points)


def _draw(ax: Any, families: dict[str, list[SystemResult]], metric: str) -> None:
    """One panel: ``metric`` with CI bars against log bitrate."""
    for family, members in families.items():
        points = _points(members, metric)
        if not points:
            continue
        x, y, lo, hi = (list(v) for v in zip(*points))
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, label=family)
    ax.set_xscale("log")
    ax.set_xlabel("nominal bitrate (kbps)")
    ax.set_title(METRICS[metric])
    ax.grid(True, which="both", alpha=0.3)


def plot_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Metric (mean with CI bars) against nominal bitrate (as papers plot it; the measured one is
    in the table), one line per system family; PNG."""
    import matplotlib  # optional (codec[eval]); only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in PLOT_METRICS if m in report.settings["metrics"]] or list(
        report.settings["metrics"]
    )
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    families: dict[str, list[SystemResult]] = {}
    for r in report.systems:
        families.setdefault(r.family, []).append(r)
    for ax, metric in zip(axes.flat, metrics):
        _draw(ax, families, metric)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    target = Path(path)
    with atomic_path(target, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return target
