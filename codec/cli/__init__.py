"""The ``codec`` command line: encode / decode / roundtrip / stream / info / convert / eval /
export-tokens, one module per subcommand, each with ``add_parser(sub)`` and ``run(args)``.

Thin over the library: :mod:`codec.encoding` does batch encoding and resume,
:mod:`codec.loading` reads ``--model``, :mod:`codec.streaming` streams, :mod:`codec.eval`
evaluates, :mod:`codec.lm.export` writes token shards.
User errors print ``error: <file>: <message>`` (never a traceback); the exit codes are
:class:`codec.cli.options.ExitCode`'s, the same for every subcommand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from codec import __version__
from codec.cli import convert, decode, encode, export_hf, export_tokens, info, roundtrip, stream
from codec.cli import eval as eval_command
from codec.cli.options import ExitCode, UsageError
from codec.errors import USER_ERRORS, one_line

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    encode,
    decode,
    roundtrip,
    stream,
    info,
    convert,
    eval_command,
    export_tokens,
    export_hf,
)
"""The subcommand modules, in ``--help`` order; each registers itself with ``add_parser``."""


def build_parser() -> argparse.ArgumentParser:
    """The ``codec`` parser; each subcommand sets ``func`` to its ``run``."""
    parser = argparse.ArgumentParser(prog="codec", description="Neural audio codec tools.")
    parser.add_argument("--version", action="version", version=f"codec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``codec`` and ``infer.py``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return ExitCode.USAGE if exc.code else ExitCode.OK
    try:
        with torch.no_grad():
            return int(args.func(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except USER_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
