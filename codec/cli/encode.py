"""``codec encode``: audio files, folders, lists and manifests -> ``.tok`` files; ``-`` reads one
audio stream (wav/flac/ogg bytes) from stdin, ``-o -`` writes one token file to stdout.

Batching, resume and long-file streaming are :class:`codec.encoding.FileEncoder`'s."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from codec.cli.console import Console
from codec.cli.options import (
    UsageError,
    add_model_options,
    add_shard_options,
    add_stream_above,
    check_not_input,
    check_writable,
    non_negative_int,
    open_model,
    positive_float,
    positive_int,
    shard_spec,
)
from codec.cli.stdio import STDIO, check_stdout, spool_stdin, write_stdout
from codec.encoding import EncodeReport, FileEncoder, Job, collect_inputs, plan_jobs
from codec.model import Codec

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``encode`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("encode", help="audio files/folders/lists/manifests -> .tok files")
    p.add_argument(
        "inputs", nargs="+", metavar="IN", help="files, folders, .txt lists, .jsonl; - for stdin"
    )
    p.add_argument(
        "-o", "--output", required=True, help="OUT.tok (one input), a folder, or - for stdout"
    )
    add_model_options(p)
    p.add_argument("--batch-size", "-b", type=positive_int, default=16, help="files per batch (16)")
    p.add_argument(
        "--batch-seconds",
        type=positive_float,
        default=30.0,
        help="padded audio per batch (30 s suits CPU caches; raise it on a GPU)",
    )
    p.add_argument("--workers", "-j", type=non_negative_int, default=0, help="loader processes (0)")
    p.add_argument("--ext", default="wav,flac,ogg", help="suffixes scanned in folders")
    add_stream_above(p)
    add_shard_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Encode; 0 when every file worked, 1 when any failed."""
    console = Console(args.quiet, args.verbose)
    _check_stdio(args)
    shard = shard_spec(args)
    if shard.count > 1 and STDIO in (args.output, *args.inputs):
        raise UsageError("- (stdin/stdout) is one stream: it cannot be split over workers")
    codec = open_model(args)
    with tempfile.TemporaryDirectory(prefix="codec-encode-") as tmp:
        (jobs, clashes), names = _jobs(args, Path(tmp), clean=shard.count == 1)
        # this worker's run of the jobs; inputs that clash are reported by worker 0 alone
        jobs, clashes = shard.take(jobs), clashes if shard.index == 0 else []
        for source, message in clashes:  # the other inputs are still encoded
            console.error(source, message)
        report = _encode(args, codec, jobs, console, names)
        report.failures[:0] = clashes
        if args.output == STDIO and not report.failures:
            write_stdout(jobs[0].output)
    speed = report.audio_seconds / max(report.wall_seconds, 1e-9)
    failed = len(report.failures)
    if not args.quiet or failed:
        print(
            f"encoded {report.encoded} file(s) ({report.audio_seconds:.1f} s audio, {speed:.1f}x "
            f"real time), skipped {report.skipped} up to date, failed {failed}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _check_stdio(args: argparse.Namespace) -> None:
    """``-`` must be the only input, and stdin needs ``-o OUT.tok`` or ``-o -``."""
    if STDIO in args.inputs and len(args.inputs) > 1:
        raise UsageError("- (stdin) must be the only input")
    if args.inputs == [STDIO] and args.output != STDIO and Path(args.output).suffix != ".tok":
        raise UsageError("encoding stdin needs -o OUT.tok or -o - (tokens on stdout)")
    if args.output == STDIO:
        check_stdout()


def _jobs(
    args: argparse.Namespace, tmp: Path, clean: bool = True
) -> tuple[tuple[list[Job], list[tuple[Path, str]]], dict[Path, str]]:
    """The jobs and the inputs left out (see :func:`plan_jobs`), and the names to print for the temp files that stand for stdin/stdout."""
    names: dict[Path, str] = {}
    if args.inputs == [STDIO]:
        spooled = spool_stdin(tmp, "stdin")
        with open(spooled, "rb") as head:
            if head.read(12)[8:] == b"WAVE":  # a .wav name: truncated WAV data is then caught
                spooled = spooled.rename(spooled.with_suffix(".wav"))
        found = [(spooled, Path("stdin"))]
        names[spooled] = "<stdin>"
    else:
        exts = [e.strip() for e in args.ext.split(",") if e.strip()]
        found = collect_inputs(args.inputs, exts)
        if not found:
            raise UsageError(f"no audio files ({', '.join(exts)}) found in {' '.join(args.inputs)}")
    if args.output == STDIO:
        if len(found) != 1:
            raise UsageError(f"-o - writes one token stream; {len(found)} inputs need a folder")
        out, single = tmp / "stdout.tok", True
        names[out] = "<stdout>"
    else:
        out = Path(args.output)
        check_not_input(out, [source for source, _ in found])
        single = len(found) == 1 and out.suffix == ".tok" and not Path(args.inputs[0]).is_dir()
        if out.suffix == ".tok" and not single:
            raise UsageError(f"{len(found)} inputs need an output folder, not {out}")
        if args.inputs == [STDIO] and out.exists() and not args.force:
            raise FileExistsError(f"{out}: exists (use --force to overwrite)")
        check_writable(out.parent if single else out, clean)
    return plan_jobs(found, out, single), names


def _encode(
    args: argparse.Namespace,
    codec: Codec,
    jobs: list[Job],
    console: Console,
    names: dict[Path, str],
) -> EncodeReport:
    """Run the encoder with its hooks on ``console``; temp paths are printed as ``names``."""
    encoder = FileEncoder(
        codec,
        args.num_codebooks,
        args.batch_size,
        args.workers,
        args.force or args.inputs == [STDIO],
        stream_above=args.stream_above,
        batch_seconds=args.batch_seconds,
        stamp_sources=args.inputs != [STDIO],
    )

    def shown(path: Path) -> str | Path:
        return names.get(path, path)

    encoder.on_error = lambda path, msg: console.error(shown(path), msg)
    encoder.on_notice = lambda kind, path, msg: console.notice(kind, shown(path), msg)
    encoder.on_saved = lambda job, seconds: console.info(
        f"{shown(job.source)} -> {shown(job.output)} ({seconds:.2f} s audio)"
    )
    encoder.on_start, encoder.on_progress = console.start, console.advance
    try:
        return encoder.run(jobs)
    finally:
        console.stop()
