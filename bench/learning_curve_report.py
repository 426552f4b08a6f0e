"""Outputs of ``bench/learning_curve.py``: per-run CSV/JSON, the PNG and the Markdown snippet."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path
from typing import Any

from codec.fileio import atomic_path, atomic_write_bytes

PANELS = {
    "stoi": "STOI",
    "pesq_wb": "PESQ-WB",
    "mel_distance": "mel distance",
    "usage_min": "least-used codebook: usage",
}
CLOCKS = {"cpu_minutes": "training CPU-minutes", "wall_minutes": "training wall minutes"}
#: issue 13's targets
STOI_TARGET, USAGE_END_TARGET, USAGE_FLOOR = 0.80, 0.50, 0.10


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The targets, checked on one run's curve: STOI and usage at the last snapshot, and the
    lowest usage of any codebook at any snapshot."""
    last = rows[-1]
    floor = min(r["usage_min"] for r in rows)
    stoi = last["stoi"]
    return {
        "final_step": last["step"],
        "final_cpu_minutes": last["cpu_minutes"],
        "final_stoi": stoi,
        "stoi_ok": stoi is not None and stoi >= STOI_TARGET,
        "final_usage_min": last["usage_min"],
        "usage_end_ok": last["usage_min"] >= USAGE_END_TARGET,
        "usage_floor": floor,
        "usage_floor_ok": floor >= USAGE_FLOOR,
    }


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot(path: Path, curves: dict[str, list[dict[str, Any]]], opus: list[dict[str, Any]]) -> None:
    """Each panel's metric against CPU-minutes (top row) and wall minutes (bottom row)."""
    import matplotlib  # optional (codec[eval])

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(PANELS), figsize=(4 * len(PANELS), 6.4), squeeze=False)
    for row, (clock, xlabel) in enumerate(CLOCKS.items()):
        for ax, (metric, title) in zip(axes[row], PANELS.items()):
            for name, rows in curves.items():
                points = [(r[clock], r[metric]) for r in rows if r.get(metric) is not None]
                if points:
                    ax.plot(*zip(*points), marker="o", markersize=3, label=name)
            for i, anchor in enumerate(opus):
                if anchor.get(metric) is not None:
                    style = ("--", ":", "-.")[i % 3]
                    ax.axhline(anchor[metric], color="grey", ls=style, label=anchor["name"])
            if metric == "usage_min":
                for level in (USAGE_END_TARGET, USAGE_FLOOR):
                    ax.axhline(level, color="red", ls=":", lw=0.8)
                ax.set_ylim(0, 1.02)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    with atomic_path(path, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def curve_table(curves: dict[str, list[dict[str, Any]]], opus: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| variant | step | CPU min | wall min | STOI | ESTOI | PESQ-WB | mel dist. | kbps "
        "| usage min | usage mean | perplexity min | batch usage min |",
        "|---" * 13 + "|",
    ]
    for name, rows in curves.items():
        for r in rows:
            lines.append(
                f"| {name} | {r['step']} | {r['cpu_minutes']:.1f} | {r['wall_minutes']:.1f} "
                f"| {_fmt(r['stoi'], '.3f')} | {_fmt(r['estoi'], '.3f')} "
                f"| {_fmt(r['pesq_wb'], '.2f')} | {_fmt(r['mel_distance'], '.3f')} "
                f"| {r['kbps']:.2f} | {r['usage_min']:.1%} | {r['usage_mean']:.1%} "
                f"| {r['perplexity_min']:.1f} | {_fmt(r['train_batch_usage_min'], '.1%')} |"
            )
    for a in opus:
        lines.append(
            f"| {a['name']} | - | - | - | {_fmt(a['stoi'], '.3f')} | {_fmt(a['estoi'], '.3f')} "
            f"| {_fmt(a['pesq_wb'], '.2f')} | {_fmt(a['mel_distance'], '.3f')} | {a['kbps']:.2f} "
            "| - | - | - | - |"
        )
    return lines


def target_table(checks: dict[str, dict[str, Any]]) -> list[str]:
    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    lines = [
        f"| variant | last step | CPU min | STOI >= {STOI_TARGET:.2f} at the end "
        f"| every codebook >= {USAGE_END_TARGET:.0%} used at the end "
        f"| never < {USAGE_FLOOR:.0%} at any snapshot |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in checks.items():
        lines.append(
            f"| {name} | {t['final_step']} | {t['final_cpu_minutes']:.1f} "
            f"| {_fmt(t['final_stoi'], '.3f')}: {mark(t['stoi_ok'])} "
            f"| {t['final_usage_min']:.1%}: {mark(t['usage_end_ok'])} "
            f"| {t['usage_floor']:.1%}: {mark(t['usage_floor_ok'])} |"
        )
    return lines


def markdown(
    curves: dict[str, list[dict[str, Any]]],
    opus: list[dict[str, Any]],
    checks: dict[str, dict[str, Any]],
    setup: dict[str, Any],
) -> str:
    command = "python bench/learning_curve.py " + shlex.join(setup["argv"])
    variants = "".join(f"\n- `{n}`: `{' '.join(o)}`" for n, o in setup["variants"].items())
    head = [
        "### Learning curve",
        "",
        f"```bash\n{command}\n```",
        "",
        f"Variants (Hydra overrides of `train.py`):{variants or ' existing run folders.'}",
        "",
        f"Validation: {len(setup['files'])} files, all codebooks, evaluated after training on "
        f"{setup['eval_threads']} thread(s). Training on {setup['threads']} thread(s) of "
        f"{setup['cpus']} CPUs, torch {setup['torch']}, {setup['date']}. CPU-minutes: the "
        "training process's CPU time since fit start (validation included, snapshot writing "
        "and start-up excluded, resumes accumulated). Usage: fraction of each codebook's codes "
        "used at least once over the whole validation set; batch usage: the last training "
        "batch's, as logged.",
        "",
    ]
    return "\n".join(head + curve_table(curves, opus) + [""] + target_table(checks)) + "\n"


def write_outputs(
    out: Path,
    runs: list[Path],
    curves: dict[str, list[dict[str, Any]]],
    opus: list[dict[str, Any]],
    setup: dict[str, Any],
) -> list[Path]:
    """Per run ``curve.csv`` / ``curve.json`` in its folder; ``learning_curve.png`` and
    ``learning_curve.md`` in ``out``. Returns the paths written."""
    written = []
    checks = {name: targets(rows) for name, rows in curves.items()}
    for run in runs:
        rows = curves[run.name]
        doc = {"run": str(run), "rows": rows, "targets": checks[run.name], "opus": opus}
        doc["setup"] = setup
        atomic_write_bytes(run / "curve.csv", csv_text(rows).encode(), force=True)
        atomic_write_bytes(run / "curve.json", json.dumps(doc, indent=2).encode(), force=True)
        written += [run / "curve.csv", run / "curve.json"]
    plot(out / "learning_curve.png", curves, opus)
    text = markdown(curves, opus, checks, setup)
    atomic_write_bytes(out / "learning_curve.md", text.encode(), force=True)
    return written + [out / "learning_curve.png", out / "learning_curve.md"]
