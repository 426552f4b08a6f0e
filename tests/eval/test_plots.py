"""The report figure: what it shows, decided as data (clipped intervals, reference lines,
titles), and the PNG itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from codec.eval.plots import Point, plot_panels, plot_report, reference_systems
from codec.eval.report import EvalReport, SystemResult


def result(name: str, family: str, kind: str, kbps: float, **scores: tuple[float, float, float]):
    """A system with ``metric=(mean, ci_low, ci_high)`` summaries."""
    summary = {m: {"mean": v[0], "ci_low": v[1], "ci_high": v[2]} for m, v in scores.items()}
    return SystemResult(
        name, family, kind, {}, summary=summary, bitrate={"nominal": kbps * 1000, "file": None}
    )


@pytest.fixture
def report() -> EvalReport:
    systems = [
        result("m K=4", "m", "codec", 6.0, stoi=(0.97, 0.92, 1.03), pesq_wb=(1.1, 0.9, 1.3)),
        result("m K=2", "m", "codec", 3.0, stoi=(0.80, 0.70, 0.90), pesq_wb=(1.05, 0.8, 1.2)),
        result("opus 6 kbps", "opus", "opus", 6.0, stoi=(0.85, 0.8, 0.9), pesq_wb=(2.0, 1.8, 2.2)),
        result("8 kHz 16-bit PCM", "8 kHz 16-bit PCM", "resample", 128.0, stoi=(0.9, 0.85, 0.95)),
    ]
    metrics = ["stoi", "pesq_wb", "mel_distance"]
    return EvalReport(systems, ["a.wav"], [], {"metrics": metrics})


def test_panels(report: EvalReport) -> None:
    pesq, stoi = plot_panels(report)  # in PLOT_METRICS order; no panel for the unscored mel
    assert stoi.title == "STOI (higher is better)"
    assert stoi.series["m"] == [  # by bitrate, interval clipped to STOI's [0, 1]
        Point("m K=2", 3.0, 0.80, 0.70, 0.90),
        Point("m K=4", 6.0, 0.97, 0.92, 1.0),
    ]
    assert [p.name for p in stoi.references] == ["8 kHz 16-bit PCM"]  # 128 kbps: a line
    assert "8 kHz 16-bit PCM" not in stoi.series and not pesq.references
    assert [(p.low, p.high) for p in pesq.series["m"]] == [(1.0, 1.2), (1.0, 1.3)]  # PESQ >= 1
    assert pesq.series["opus"] == [Point("opus 6 kbps", 6.0, 2.0, 1.8, 2.2)]


def test_reference_systems(report: EvalReport) -> None:
    assert reference_systems(report.systems) == ["8 kHz 16-bit PCM"]
    assert reference_systems(report.systems, factor=50) == []
    baselines = report.systems[2:]  # no codec: far from the median bitrate
    assert reference_systems(baselines + [result("opus 12", "opus", "opus", 12.0)]) == [
        "8 kHz 16-bit PCM"
    ]


def test_png(report: EvalReport, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report.systems[0].summary["mel_distance"] = {"mean": 1.0, "ci_low": None, "ci_high": None}
    assert plot_panels(report)[-1].title == "mel dist. (lower is better)"
    png = plot_report(report, tmp_path / "plot.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]  # written atomically
