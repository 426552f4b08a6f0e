"""``codec export-tokens``: a corpus -> memory-mappable token shards for LM training (the
library side is :func:`codec.lm.export.export_tokens`)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from codec.bundled import DEFAULT_MODEL
from codec.errors import install_hint
from codec.lm.export import DEFAULT_SHARD_FRAMES, export_tokens, has_pyarrow
from codec.loading import load_model

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
    p.add_argument("inputs", nargs="+", metavar="MANIFEST_OR_DIR")
    p.add_argument("-o", "--output", required=True, metavar="SHARDS", help="output folder")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="M",
        help=f"exported model folder, preset or bundled model (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--num-codebooks", type=int, default=None, metavar="K")
    p.add_argument("--batch-size", type=int, default=8, metavar="N")
    p.add_argument("--workers", type=int, default=0, metavar="W", help="audio loading workers")
    p.add_argument(
        "--shard-frames",
        type=int,
        default=DEFAULT_SHARD_FRAMES,
        metavar="F",
        help="frames per shard",
    )
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda when available)")
    p.add_argument(
        "--parquet", action="store_true", help="also write Parquet (needs pyarrow: the lm extra)"
    )
    p.add_argument("--force", action="store_true", help="discard existing shards, start over")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``export-tokens``; user errors print one line on stderr and return 1."""

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    if args.parquet and not has_pyarrow():  # before hours of encoding, not after
        print(f"error: --parquet needs pyarrow: {install_hint('lm')}", file=sys.stderr)
        return 1
    try:
        codec = load_model(args.model)
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # skipped files are warnings: show every one
            export_tokens(
                codec,
                args.inputs,
                args.output,
                num_codebooks=args.num_codebooks,
                batch_size=args.batch_size,
                num_workers=args.workers,
                shard_size=args.shard_frames,
                force=args.force,
                device=args.device,
                parquet=args.parquet,
                log=log,
            )
    except (ValueError, OSError) as exc:  # AudioError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
