"""``codec merge-tokens``: the parts of a sharded ``export-tokens`` run -> one shard folder (the
library side is :func:`codec.lm.merge.merge_tokens`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codec.cli.options import ExitCode, add_output_options
from codec.cli.stdio import refuse_stdio
from codec.lm.merge import merge_tokens

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``merge-tokens`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser(
        "merge-tokens",
        help="combine the workers' outputs of export-tokens --num-shards into one folder",
        description=(
            "Check that the worker manifests (r*-manifest.json) in the given folders form one "
            "whole, finished split made by one model, then write OUT/manifest.json with the "
            "utterances in the single-worker order (shard files of other folders are "
            "hard-linked, or copied, into OUT)."
        ),
    )
    p.add_argument("folders", nargs="+", metavar="SHARDS", help="the workers' output folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="merged folder")
    p.add_argument("--force", "-f", action="store_true", help="replace an existing manifest")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Merge; a problem with the parts is one ``error:`` line (exit code 1)."""
    refuse_stdio([*args.folders, args.output], "merge-tokens", "give folders")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    merge_tokens(args.folders, args.output, force=args.force, log=log)
    return ExitCode.OK
