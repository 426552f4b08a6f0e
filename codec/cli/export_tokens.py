"""``codec export-tokens``: a corpus -> memory-mappable token shards for LM training (the
library side is :func:`codec.lm.export.export_tokens`)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from codec.bundled import DEFAULT_MODEL
from codec.cli.console import Console
from codec.cli.options import (
    ExitCode,
    UsageError,
    add_output_options,
    add_shard_options,
    non_negative_int,
    open_model,
    positive_int,
    shard_spec,
)
from codec.cli.stdio import refuse_stdio
from codec.errors import install_hint
from codec.lm.batches import Engine
from codec.lm.export import DEFAULT_SHARD_FRAMES, export_tokens, has_pyarrow
from codec.lm.ray_export import has_ray, ray_engine

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``export-tokens`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser(
        "export-tokens",
        help="encode a corpus into memory-mappable token shards for LM training",
        description=(
            "Encode audio (folders, JSONL manifests, file lists or files) into sharded .npy "
            "codes + manifest.json. Rerunning resumes: completed shards are kept."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="MANIFEST_OR_DIR",
        help="audio folders, .jsonl manifests, .txt file lists or audio files",
    )
    p.add_argument("-o", "--output", required=True, metavar="SHARDS", help="output folder")
    p.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        metavar="M",
        help=f"exported model folder, .ckpt, preset or bundled model (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--num-codebooks", "-k", type=positive_int, metavar="K", help="codebooks to keep (all)"
    )
    p.add_argument(
        "--batch-size", "-b", type=positive_int, default=8, metavar="N", help="files per batch (8)"
    )
    p.add_argument(
        "--workers", "-j", type=non_negative_int, default=0, metavar="W", help="loader processes"
    )
    p.add_argument(
        "--shard-frames",
        type=positive_int,
        default=DEFAULT_SHARD_FRAMES,
        metavar="F",
        help=f"frames per shard ({DEFAULT_SHARD_FRAMES})",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default: auto)")
    p.add_argument(
        "--parquet", action="store_true", help="also write Parquet (needs pyarrow: the lm extra)"
    )
    p.add_argument("--force", "-f", action="store_true", help="discard existing shards, start over")
    add_shard_options(p)
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: actors of a Ray cluster (the ray extra; default: local)",
    )
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join (default: auto)")
    p.add_argument(
        "--actors", type=positive_int, metavar="A", help="Ray actors (default: one per GPU or CPU)"
    )
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``export-tokens``; each input that failed (unreadable, too short) is one ``error:``
    line and listed under ``skipped`` in the manifest, and the exit code is then 1."""
    refuse_stdio([*args.inputs, args.output], "export-tokens", "give files and a folder")
    console = Console(args.quiet, args.verbose)
    shard, engine = shard_spec(args), _engine(args)
    codec = open_model(args)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    if shard.count > 1:
        log(f"worker {shard.index} of {shard.count} (from {shard.source})")

    def progress(done: int, total: int) -> None:
        if console.bar is None and done == 0:
            console.start(total, "exporting", "files")
        else:
            console.advance(done - console.done)
            console.info(f"exported {done} of {total} files")

    def warn(message: Warning | str, *_: object, **__: object) -> None:
        print(f"warning: {message}", file=sys.stderr)

    if args.parquet and not has_pyarrow():  # before hours of encoding, not after
        print(f"error: --parquet needs pyarrow: {install_hint('lm')}", file=sys.stderr)
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # skipped files are warnings: show every one
            warnings.showwarning = warn
            manifest = export_tokens(
                codec,
                args.inputs,
                args.output,
                num_codebooks=args.num_codebooks,
                batch_size=args.batch_size,
                num_workers=args.workers,
                shard_size=args.shard_frames,
                force=args.force,
                device=codec.device,
                parquet=args.parquet,
                log=log,
                progress=progress,
                on_skip=console.error,
                shard=shard,
                engine=engine,
            )
    finally:
        console.stop()
    failed = len(manifest["skipped"])
    if failed:
        print(f"failed {failed} file(s), listed under 'skipped' in the manifest", file=sys.stderr)
    return ExitCode.FAILED if failed else ExitCode.OK


def _engine(args: argparse.Namespace) -> Engine | None:
    """The Ray engine for ``--engine ray`` (None: this process encodes)."""
    if args.engine != "ray":
        if args.actors or args.ray_address:
            raise UsageError("--actors and --ray-address go with --engine ray")
        return None
    if not has_ray():
        raise UsageError(f"--engine ray needs Ray Data: {install_hint('ray')}")
    args.device = "cpu"  # the driver only writes the shards; each actor takes its own device
    return ray_engine(args.model, args.actors, address=args.ray_address)
