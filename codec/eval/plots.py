"""The report's figure: each metric against nominal bitrate, one line per system family.

What is drawn is decided by :func:`plot_panels` (plain data, tested as such); :func:`plot_report`
only draws it. Confidence intervals are clipped to each metric's range, a system far off the
codecs' bitrate range (e.g. 128 kbps PCM next to 6 kbps codecs) is a horizontal reference line
instead of stretching the bitrate axis, each title says which way is better, and the legend sits
below the panels."""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codec.eval.scores import HIGHER_IS_BETTER, METRICS
from codec.fileio import atomic_path

if TYPE_CHECKING:
    from codec.eval.report import EvalReport, SystemResult

__all__ = [
    "METRIC_RANGES",
    "PLOT_METRICS",
    "REFERENCE_FACTOR",
    "Panel",
    "Point",
    "plot_panels",
    "plot_report",
    "reference_systems",
]

PLOT_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "mel_distance")

METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "pesq_wb": (1.0, 4.64),  # P.862.2 MOS-LQO mapping
    "pesq_nb": (1.0, 4.55),  # P.862.1 MOS-LQO mapping
    "stoi": (0.0, 1.0),
    "estoi": (0.0, 1.0),
    "si_sdr": (None, None),
    "mel_distance": (0.0, None),
    "stft_distance": (0.0, None),
}
"""The values each metric can take (``None``: unbounded); intervals are clipped to them."""

REFERENCE_FACTOR = 4.0
"""A system more than this factor above (or below) the codecs' bitrates is a reference line."""


@dataclass(frozen=True)
class Point:
    """One system in a panel: bitrate (kbps), mean and the clipped interval ``[low, high]``."""

    name: str
    kbps: float
    mean: float
    low: float
    high: float


@dataclass
class Panel:
    """One metric's panel: the families' points by bitrate, and the reference lines."""

    metric: str
    title: str
    series: dict[str, list[Point]] = field(default_factory=dict)
    references: list[Point] = field(default_factory=list)


def _kbps(result: SystemResult) -> float | None:
    rate = result.bitrate.get("nominal") or result.bitrate.get("file")
    return rate / 1000 if rate else None


def reference_systems(systems: list[SystemResult], factor: float = REFERENCE_FACTOR) -> list[str]:
    """Names of the systems drawn as horizontal lines: bitrate more than ``factor`` times above
    the highest (or below the lowest) codec bitrate; without codecs, away from the median."""
    rates = {r.name: k for r in systems if (k := _kbps(r)) is not None}
    codecs = [rates[r.name] for r in systems if r.kind == "codec" and r.name in rates]
    if codecs:
        low, high = min(codecs), max(codecs)
    elif rates:
        low = high = statistics.median(rates.values())
    else:
        return []
    return [name for name, k in rates.items() if k > high * factor or k < low / factor]


def _clip(value: float, metric: str) -> float:
    low, high = METRIC_RANGES.get(metric, (None, None))
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


def _point(result: SystemResult, metric: str) -> Point | None:
    stats = result.summary.get(metric) or {}
    kbps = _kbps(result)
    if stats.get("mean") is None or kbps is None:
        return None
    mean = stats["mean"]
    low = stats["ci_low"] if stats.get("ci_low") is not None else mean
    high = stats["ci_high"] if stats.get("ci_high") is not None else mean
    return Point(result.name, kbps, mean, _clip(low, metric), _clip(high, metric))


def _title(metric: str) -> str:
    better = "higher" if HIGHER_IS_BETTER.get(metric, True) else "lower"
    return f"{METRICS.get(metric, metric)} ({better} is better)"


def plot_panels(report: EvalReport) -> list[Panel]:
    """What the figure shows, panel by panel (see the module docstring); metrics no system
    was scored with get no panel."""
    metrics = [m for m in PLOT_METRICS if m in report.settings["metrics"]] or list(
        report.settings["metrics"]
    )
    references = set(reference_systems(report.systems))
    panels = []
    for metric in metrics:
        panel = Panel(metric, _title(metric))
        for result in report.systems:
            point = _point(result, metric)
            if point is None:
                continue
            if result.name in references:
                panel.references.append(point)
            else:
                panel.series.setdefault(result.family, []).append(point)
        for points in panel.series.values():
            points.sort(key=lambda p: p.kbps)
        if panel.series or panel.references:  # a metric nothing was scored with: no panel
            panels.append(panel)
    return panels


def _draw(ax: Any, panel: Panel, colors: dict[str, Any]) -> None:
    """One panel: families with interval bars against log bitrate, reference lines across."""
    for family, points in panel.series.items():
        x = [p.kbps for p in points]
        y = [p.mean for p in points]
        err = [[p.mean - p.low for p in points], [p.high - p.mean for p in points]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=colors[family], label=family)
    for ref in panel.references:
        label = f"{ref.name} ({ref.kbps:g} kbps, reference)"
        ax.axhline(ref.mean, linestyle="--", linewidth=1.2, color=colors[ref.name], label=label)
        if ref.high > ref.low:
            ax.axhspan(ref.low, ref.high, color=colors[ref.name], alpha=0.12, linewidth=0)
    ax.set_xscale("log")
    rates = sorted({p.kbps for points in panel.series.values() for p in points})
    if rates:  # ticks at the measured bitrates, as plain numbers
        ax.set_xticks(rates, [f"{r:g}" for r in rates])
        ax.xaxis.set_minor_formatter("")
    ax.set_xlabel("nominal bitrate (kbps)")
    ax.set_title(panel.title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


def plot_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Metric (mean with CI bars) against nominal bitrate (as papers plot it; the measured one is
    in the table), one line per system family; PNG."""
    import matplotlib  # optional (codec[eval]); only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = plot_panels(report) or [Panel("", "no metric was scored")]
    cols = min(3, max(1, len(panels)))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.5 * rows), squeeze=False)
    refs = {p.name for panel in panels for p in panel.references}
    keys = [r.name if r.name in refs else r.family for r in report.systems]
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {key: cycle[i % len(cycle)] for i, key in enumerate(dict.fromkeys(keys))}
    for ax, panel in zip(axes.flat, panels):
        _draw(ax, panel, colors)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.tight_layout()
    if legend:  # below the panels, never over data; bbox_inches="tight" makes room for it
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(3, len(legend)),
            fontsize=9,
            frameon=False,
        )
    target = Path(path)
    with atomic_path(target, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target
