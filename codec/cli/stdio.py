"""``-`` on the command line: one stream read from stdin or written to stdout, where a single
stream makes sense (``encode``/``decode``), and a clear refusal elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from codec.cli.options import UsageError

__all__ = ["STDIO", "check_stdout", "refuse_stdio", "spool_stdin", "write_stdout"]

STDIO = "-"
"""The name that means stdin (an input) or stdout (``-o``)."""


def refuse_stdio(values: Sequence[str | None], what: str, reason: str) -> None:
    """A :class:`UsageError` when any of ``values`` is ``-``: ``<what>: <reason>``."""
    if any(v == STDIO for v in values):
        raise UsageError(f"{what} -: {reason}")


def check_stdout() -> None:
    """Refuse to write binary data to a terminal (before any work is done)."""
    if sys.stdout.isatty():
        raise UsageError("-o -: stdout is a terminal; redirect it to a file or a pipe")


def spool_stdin(folder: Path, name: str) -> Path:
    """Copy all of stdin into ``folder/name`` (readers need a seekable file); empty stdin is a
    usage error."""
    path = folder / name
    size = 0
    with open(path, "wb") as out:
        while chunk := sys.stdin.buffer.read(1 << 20):
            out.write(chunk)
            size += len(chunk)
    if not size:
        raise UsageError("-: nothing on stdin")
    return path


def write_stdout(path: Path) -> None:
    """Copy the finished file ``path`` to stdout."""
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
