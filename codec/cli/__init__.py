"""The ``codec`` command line: encode / decode / roundtrip / stream / info / convert / eval /
export-tokens / merge-tokens, one module per subcommand, each with ``add_parser(sub)`` and
``run(args)``.

Thin over the library: :mod:`codec.encoding` does batch encoding and resume,
:mod:`codec.loading` reads ``--model``, :mod:`codec.streaming` streams, :mod:`codec.eval`
evaluates, :mod:`codec.lm.export` writes token shards.
User errors print ``error: <file>: <message>`` (never a traceback); the exit codes are
:class:`codec.cli.options.ExitCode`'s, the same for every subcommand.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import torch

from codec import __version__
from codec.cli import (
    convert,
    decode,
    encode,
    export_hf,
    export_onnx,
    export_tokens,
    info,
    merge_tokens,
    roundtrip,
    stream,
)
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
    merge_tokens,
    export_hf,
    export_onnx,
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
        with torch.no_grad(), _sigterm_interrupts():
            return int(args.func(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except USER_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return ExitCode.FAILED
    except Terminated:
        print("error: terminated (SIGTERM)", file=sys.stderr)
        return ExitCode.TERMINATED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds like Ctrl-C: the ``finally`` blocks
    of atomic writes remove their temp files (the default SIGTERM action would leave them)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block (main thread only; the previous
    handler comes back after, so a caller embedding :func:`main` keeps its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
