"""``codec encode``: audio files, folders, lists and manifests -> ``.tok`` files.

Batching, resume and long-file streaming are :class:`codec.encoding.FileEncoder`'s."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from codec.cli.console import Console
from codec.cli.options import (
    UsageError,
    add_model_options,
    add_stream_above,
    check_writable,
    open_model,
)
from codec.encoding import FileEncoder, collect_inputs, plan_jobs

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``encode`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("encode", help="audio files/folders/lists/manifests -> .tok files")
    p.add_argument("inputs", nargs="+", metavar="IN", help="files, folders, .txt lists, .jsonl")
    p.add_argument("-o", "--output", required=True, help="OUT.tok (one input) or a folder")
    add_model_options(p)
    p.add_argument("--batch-size", "-b", type=int, default=16, help="files per batch (16)")
    p.add_argument(
        "--batch-seconds",
        type=float,
        default=30.0,
        help="padded audio per batch (30 s suits CPU caches; raise it on a GPU)",
    )
    p.add_argument("--workers", "-j", type=int, default=0, help="loader processes (0)")
    p.add_argument("--ext", default="wav,flac,ogg", help="suffixes scanned in folders")
    add_stream_above(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Encode; 0 when every file worked, 1 when any failed."""
    console = Console(args.quiet)
    codec = open_model(args)
    exts = [e.strip() for e in args.ext.split(",") if e.strip()]
    found = collect_inputs(args.inputs, exts)
    if not found:
        raise UsageError(f"no audio files ({', '.join(exts)}) found in {' '.join(args.inputs)}")
    out = Path(args.output)
    single = len(found) == 1 and out.suffix == ".tok" and not Path(args.inputs[0]).is_dir()
    if out.suffix == ".tok" and not single:
        raise UsageError(f"{len(found)} inputs need an output folder, not {out}")
    check_writable(out.parent if single else out)
    jobs = plan_jobs(found, out, single)
    encoder = FileEncoder(
        codec,
        args.num_codebooks,
        args.batch_size,
        args.workers,
        args.force,
        stream_above=args.stream_above,
        batch_seconds=args.batch_seconds,
    )
    encoder.on_error, encoder.on_notice = console.error, console.notice
    encoder.on_start, encoder.on_progress = console.start, console.advance
    try:
        report = encoder.run(jobs)
    finally:
        console.stop()
    speed = report.audio_seconds / max(report.wall_seconds, 1e-9)
    failed = len(report.failures)
    if not args.quiet or failed:
        print(
            f"encoded {report.encoded} file(s) ({report.audio_seconds:.1f} s audio, {speed:.1f}x "
            f"real time), skipped {report.skipped} up to date, failed {failed}",
            file=sys.stderr,
        )
    return 1 if failed else 0
