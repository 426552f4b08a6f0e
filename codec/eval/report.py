"""The result of ``codec eval``: :class:`EvalReport` (per-system :class:`SystemResult`), its
JSON form and its Markdown tables; ``save`` writes both and the plot."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codec.eval.plots import plot_report
from codec.eval.scores import METRICS
from codec.fileio import atomic_write_bytes

__all__ = ["REPORT_FILES", "EvalReport", "SystemResult", "check_output_dir", "render_markdown"]

REPORT_FILES = ("report.json", "report.md", "quality_vs_bitrate.png")
_JSON_ORDER = (
    "name",
    "family",
    "kind",
    "info",
    "bitrate",
    "rtf",
    "summary",
    "stability",
    "codebooks",
    "skipped",
    "failures",
    "utterances",
)


@dataclass
class SystemResult:
    """Everything measured for one system."""

    name: str
    family: str
    kind: str
    info: dict[str, Any]
    utterances: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    bitrate: dict[str, float | None] = field(default_factory=dict)
    rtf: dict[str, float | None] = field(default_factory=dict)
    codebooks: list[dict[str, float]] | None = None
    stability: dict[str, float] | None = None

    def mean(self, metric: str) -> float | None:
        """The mean of ``metric`` over the utterances (``None`` if never scored)."""
        stats = self.summary.get(metric)
        return None if stats is None else stats.get("mean")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: settings and summaries first, per-utterance rows last."""
        return {key: getattr(self, key) for key in _JSON_ORDER}


@dataclass
class EvalReport:
    """The result of :func:`~codec.eval.runner.evaluate`: per system results, the files,
    unreadable files and the settings. ``save(folder)`` writes ``report.json``, ``report.md``
    and ``quality_vs_bitrate.png``."""

    systems: list[SystemResult]
    files: list[str]
    errors: list[dict[str, str]]
    settings: dict[str, Any]

    def system(self, name: str) -> SystemResult:
        """The result of the system called ``name``."""
        for result in self.systems:
            if result.name == name:
                return result
        raise KeyError(f"no system named {name!r}; have {[s.name for s in self.systems]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "codec-eval",
            "version": 1,
            "settings": self.settings,
            "files": self.files,
            "errors": self.errors,
            "systems": [s.to_dict() for s in self.systems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        return render_markdown(self)

    def save(
        self, directory: str | os.PathLike[str], force: bool = False, plots: bool = True
    ) -> list[Path]:
        """Write the report into ``directory`` (atomic writes). Refuses to overwrite an existing
        ``report.json`` unless ``force``. Returns the written paths."""
        out = Path(directory)
        check_output_dir(out, force)
        written = []
        if plots:
            png = out / "quality_vs_bitrate.png"
            plot_report(self, png)
            written.append(png)
        for name, text in (("report.md", self.to_markdown()), ("report.json", self.to_json())):
            atomic_write_bytes(out / name, text.encode("utf-8"), force=True)
            written.append(out / name)
        return written


def check_output_dir(directory: Path, force: bool) -> None:
    """Raise :class:`FileExistsError` if ``directory`` holds a report and not ``force``."""
    existing = [directory / n for n in REPORT_FILES if (directory / n).exists()]
    if existing and not force:
        raise FileExistsError(
            f"{directory} already holds a report ({existing[0].name}); use --force to overwrite"
        )


# ------------------------------------------------------------------------------------ Markdown
_DIGITS = {"si_sdr": 1, "pesq_wb": 2, "pesq_nb": 2, "stoi": 3, "estoi": 3}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cell(stats: dict[str, Any] | None, digits: int) -> str:
    """``mean ± half-width`` of a summary."""
    if not stats or stats.get("mean") is None:
        return "-"
    mean = stats["mean"]
    if stats.get("ci_high") is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {stats['ci_high'] - mean:.{digits}f}"


def _kbps(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f}"


def render_markdown(report: EvalReport) -> str:
    """The report as Markdown: a quality table, codebook usage, skips and unreadable files."""
    s = report.settings
    lines = [
        "# Codec evaluation",
        "",
        f"{s['num_files']} utterance(s), {s['total_seconds']:.1f} s, scored at "
        f"{s['sample_rate']} Hz; mean ± half-width of the {100 * s['ci']['level']:g} % "
        f"confidence interval ({s['ci']['method']}). Bitrates in kbps: nominal, and measured "
        "from the stored file (token file / Ogg / WAV bytes over duration). RTF = processing "
        "time / audio duration (lower is faster).",
        "",
    ]
    lines += [f"- Note: {note}" for note in s.get("notes", [])]
    if s.get("notes"):
        lines.append("")
    lines += _quality_table(report.systems, s["metrics"])
    lines += _codebook_table(report.systems)
    lines += _skipped_list(report)
    return "\n".join(lines) + "\n"


def _quality_table(systems: list[SystemResult], metrics: list[str]) -> list[str]:
    """One row per system: bitrates, metric means, real-time factors, stability, code use."""
    head = ["system", "kbps", "kbps file"] + [METRICS[m] for m in metrics]
    last = max((int(c) for r in systems for c in (r.stability or {})), default=5)
    head += ["RTF enc", "RTF dec", "stable@1", f"stable@{last}", "code use"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in systems:
        stab = r.stability or {}
        usage = (
            "-"
            if not r.codebooks
            else f"{100 * float(np.mean([c['usage'] for c in r.codebooks])):.1f}%"
        )
        cells = [r.name, _kbps(r.bitrate.get("nominal")), _kbps(r.bitrate.get("file"))]
        cells += [_cell(r.summary.get(m), _DIGITS.get(m, 3)) for m in metrics]
        cells += [_fmt(r.rtf.get("encode"), 3), _fmt(r.rtf.get("decode"), 3)]
        cells += [_fmt(stab.get("1"), 3), _fmt(stab.get(str(last)), 3) if last > 1 else "-"]
        cells.append(usage)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _codebook_table(systems: list[SystemResult]) -> list[str]:
    """Usage, entropy and perplexity per codebook of the systems that make codes."""
    codecs = [r for r in systems if r.codebooks]
    if not codecs:
        return []
    lines = [
        "",
        "## Codebooks",
        "",
        "Usage = share of the codebook used at least once over the set; entropy in bits "
        "(log2 of the codebook size is the maximum).",
        "",
        "| system | codebook | usage | entropy (bits) | perplexity |",
        "|---|---|---|---|---|",
    ]
    for r in codecs:
        for c in r.codebooks or []:
            lines.append(
                f"| {r.name} | {c['codebook']} | {100 * c['usage']:.1f}% | "
                f"{c['entropy_bits']:.2f} | {c['perplexity']:.1f} |"
            )
    return lines


def _skipped_list(report: EvalReport) -> list[str]:
    """Failed files, skipped metrics (tallied by reason) and unreadable files."""
    skipped = [(r.name, row) for r in report.systems for row in r.skipped]
    failures = [(r.name, row) for r in report.systems for row in r.failures]
    if not (skipped or failures or report.errors):
        return []
    lines = ["", "## Skipped", ""]
    for name, row in failures:
        lines.append(f"- {name}: `{row['file']}` failed: {row['error']}")
    tally: dict[tuple[str, str, str], int] = {}
    for name, row in skipped:
        key = (name, row["metric"], row["reason"])
        tally[key] = tally.get(key, 0) + 1
    for (name, metric, reason), n in tally.items():
        lines.append(f"- {name}: {metric} skipped on {n} file(s): {reason}")
    for row in report.errors:
        lines.append(f"- unreadable `{row['file']}`: {row['error']}")
    return lines
