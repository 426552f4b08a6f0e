"""``codec eval``: run models and baselines on the same utterances, write the report.

The library side is :mod:`codec.eval`; this module only parses and reports. Exit codes are
:class:`codec.cli.options.ExitCode`'s: 1 when an input could not be read, 2 on bad arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from codec.bundled import DEFAULT_MODEL
from codec.cli.console import Console
from codec.cli.options import (
    ExitCode,
    UsageError,
    add_output_options,
    non_negative_int,
    open_model,
    positive_int,
)
from codec.cli.stdio import refuse_stdio
from codec.errors import one_line
from codec.eval.baselines import parse_baselines
from codec.eval.report import check_output_dir
from codec.eval.runner import collect_files, evaluate
from codec.eval.scores import DEFAULT_METRICS, METRICS
from codec.eval.systems import CodecSystem, System

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``eval`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser(
        "eval",
        help="measure models and baselines (PESQ, STOI, SI-SDR, bitrate, RTF, codebooks)",
        description=(
            "Encode and decode DATA with each model (at each --num-codebooks) and each baseline, "
            "score every utterance and write report.json, report.md and quality_vs_bitrate.png."
        ),
    )
    p.add_argument(
        "data", nargs="+", metavar="DATA", help="audio files, folders, .jsonl manifests, .txt lists"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="M",
        help=(
            "exported folder, training .ckpt, encodec_24khz:PATH or a bundled model "
            f"(repeatable; default: {DEFAULT_MODEL})"
        ),
    )
    p.add_argument(
        "--num-codebooks",
        "-k",
        action="append",
        metavar="K",
        help="codebook counts to evaluate, e.g. 1,2,4 (default: all of the model's)",
    )
    _add_options(p)
    p.set_defaults(func=run)


def _add_options(p: argparse.ArgumentParser) -> None:
    """Everything but the inputs and ``--model``/``-k``, each with its help."""
    p.add_argument("-o", "--output", default="eval", metavar="OUT_DIR", help="report folder (eval)")
    p.add_argument(
        "--max-files", type=positive_int, metavar="N", help="evaluate the first N files only"
    )
    p.add_argument(
        "--baselines",
        default="opus,8k",
        help="comma list: opus (ladder), opus:6k, 8k (telephone band), ulaw (G.711), "
        "encodec:PATH, none (default: opus,8k)",
    )
    p.add_argument(
        "--sample-rate", type=positive_int, help="evaluation rate in Hz (default: the model's)"
    )
    p.add_argument(
        "--metrics", default=",".join(DEFAULT_METRICS), help=f"comma list of {', '.join(METRICS)}"
    )
    p.add_argument(
        "--stability-cycles",
        type=non_negative_int,
        default=5,
        metavar="N",
        help="decode/re-encode cycles of the token stability measure (5; 0 skips it)",
    )
    p.add_argument(
        "--ci",
        choices=("t", "bootstrap"),
        default="t",
        help="95%% interval of the means: Student t or bootstrap (t)",
    )
    p.add_argument("--device", default="cpu", help="torch device for the models (cpu)")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-plots", action="store_true", help="skip quality_vs_bitrate.png")
    p.add_argument("--force", "-f", action="store_true", help="overwrite an existing report")
    add_output_options(p)


def run(args: argparse.Namespace) -> int:
    """``codec eval``: 0 on success, 1 when an input could not be read (the report covers the
    others); bad arguments raise :class:`UsageError` (2)."""
    refuse_stdio(args.data, "DATA", "eval reads files; give paths")
    metrics, systems, notes = _setup(args)
    return _evaluate(args, metrics, systems, notes)


def _setup(args: argparse.Namespace) -> tuple[list[str], list[System], list[str]]:
    """The metrics, the systems (models, then baselines) and the notes for the user."""
    check_output_dir(Path(args.output), args.force)  # FileExistsError: exit code 1, as encode
    if args.threads:
        torch.set_num_threads(args.threads)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UsageError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    try:
        ks = _int_list(args.num_codebooks)
    except ValueError:
        raise UsageError(f"--num-codebooks takes integers, got {args.num_codebooks}") from None
    systems, notes = _model_systems(args, ks)
    codec_rates = [s.nominal_bitrate for s in systems if s.nominal_bitrate is not None]
    try:
        baselines, baseline_notes = parse_baselines(
            args.baselines, codec_rates, device=args.device, stability_cycles=args.stability_cycles
        )
    except ValueError as err:
        raise UsageError(f"--baselines: {err}") from None
    notes += baseline_notes
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    systems += baselines
    if not systems:
        raise UsageError("nothing to evaluate (give --model and/or --baselines)")
    return metrics, systems, notes


def _model_systems(
    args: argparse.Namespace, ks: list[int] | None
) -> tuple[list[System], list[str]]:
    """One system per ``--model`` and codebook count; counts a model cannot use become notes."""
    systems: list[System] = []
    notes: list[str] = []
    for spec in args.model or [DEFAULT_MODEL]:
        try:
            model = open_model(args, spec)  # -k is checked per count below
        except UsageError:
            raise
        except Exception as err:  # any failure to load is the user's spec: one line, exit 2
            raise UsageError(f"--model {spec}: {one_line(err)}") from None
        for k in ks or [model.num_codebooks]:
            try:
                systems.append(CodecSystem(model, k, stability_cycles=args.stability_cycles))
            except ValueError as err:
                notes.append(f"{model.config.model_id}: {k} codebooks skipped ({err})")
    return systems, notes


def _int_list(values: Sequence[str] | None) -> list[int] | None:
    """``["1,2", "4"]`` -> ``[1, 2, 4]``; ``None`` when not given."""
    if not values:
        return None
    out = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                out.append(int(part))
    return out


def _evaluate(
    args: argparse.Namespace, metrics: list[str], systems: list[System], notes: list[str]
) -> int:
    """Collect the inputs, evaluate, write and print the report."""
    console = Console(args.quiet, args.verbose)

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    def progress(line: str) -> None:
        console.advance(1)
        console.info(line)

    files, errors = collect_files(args.data, args.max_files)
    say(f"evaluating {len(systems)} system(s) on {len(files)} file(s)")
    console.start(len(files), "evaluating", "files")
    try:
        report = evaluate(
            systems,
            files,
            sample_rate=args.sample_rate,
            metrics=metrics,
            ci_method=args.ci,
            errors=errors,
            progress=progress,
        )
    finally:
        console.stop()
    report.settings["argv"] = list(sys.argv)
    report.settings["notes"] = notes
    written = report.save(Path(args.output), force=args.force, plots=not args.no_plots)
    if not args.quiet:
        print(report.to_markdown())
    say("wrote " + ", ".join(str(p) for p in written))
    for row in report.errors:  # unreadable inputs: the others were evaluated, as in encode
        print(f"error: {row['file']}: {row['error']}", file=sys.stderr)
    if not report.files:
        print("error: no file could be read", file=sys.stderr)
    return ExitCode.FAILED if report.errors or not report.files else ExitCode.OK
