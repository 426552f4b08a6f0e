"""What several subcommands share: the usage error (exit code 2), the ``--model`` options and
loading, ``--stream-above``, and the writable-output check."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from codec.bundled import DEFAULT_MODEL
from codec.errors import one_line
from codec.loading import load_model
from codec.model import Codec

__all__ = ["UsageError", "add_model_options", "add_stream_above", "check_writable", "open_model"]


class UsageError(ValueError):
    """Bad arguments (exit code 2)."""


def add_model_options(p: argparse.ArgumentParser, codebooks: bool = True) -> None:
    """``--model``, ``--device``, ``--num-codebooks`` (with ``codebooks``), ``--force``,
    ``--quiet``."""
    p.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        help=f"export dir, .ckpt, encodec_24khz:PATH or a bundled model (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    if codebooks:
        p.add_argument("--num-codebooks", "-k", type=int, help="codebooks to keep (default: all)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quiet", "-q", action="store_true", help="no notices or progress bar")


def add_stream_above(p: argparse.ArgumentParser) -> None:
    """``--stream-above SECONDS``."""
    p.add_argument(
        "--stream-above",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="process longer files chunk by chunk in bounded memory (causal models; default 600)",
    )


def open_model(args: argparse.Namespace) -> Codec:
    """The ``--model`` on ``--device``, checked against ``--num-codebooks`` when given; a bad
    spec is a :class:`UsageError`."""
    try:
        codec = load_model(args.model, args.device)
        if getattr(args, "num_codebooks", None) is not None:
            codec.check_num_codebooks(args.num_codebooks)
    except ValueError as exc:
        raise UsageError(f"--model {args.model}: {one_line(exc, args.model)}") from None
    return codec


def check_writable(folder: Path) -> None:
    """Create ``folder`` and check a file can be made in it (before any work is done)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OSError(
            f"{folder}: output folder is not writable ({one_line(exc, folder)})"
        ) from None
