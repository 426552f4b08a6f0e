"""What several subcommands share: the exit codes, the usage error (exit code 2), checked
numeric option types, the ``--model`` options and loading, ``--quiet``/``--verbose``,
``--stream-above``, and the writable-output check."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path

import torch

from codec.bundled import DEFAULT_MODEL
from codec.errors import one_line
from codec.fileio import remove_stale_temps
from codec.loading import load_model
from codec.model import Codec
from codec.sharding import ShardSpec, local_device, resolve_shard_spec

__all__ = [
    "ExitCode",
    "UsageError",
    "add_model_options",
    "add_output_options",
    "add_shard_options",
    "add_stream_above",
    "check_not_input",
    "check_writable",
    "non_negative_int",
    "open_model",
    "positive_float",
    "positive_int",
    "shard_spec",
]


class ExitCode(IntEnum):
    """The exit codes of every ``codec`` subcommand (README, "Command line")."""

    OK = 0
    FAILED = 1
    """Some inputs failed (the others were done), or the work itself failed."""
    USAGE = 2
    """Bad arguments, including a ``--model`` that cannot be loaded; nothing was done."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT, as shells report it)."""
    TERMINATED = 143
    """SIGTERM (128 + SIGTERM): stopped the way Ctrl-C stops, temp files removed."""


class UsageError(ValueError):
    """Bad arguments (exit code 2)."""


def _checked(kind: Callable[[str], float], test: Callable[[float], bool], what: str) -> Callable:
    """An argparse ``type``: ``kind(text)`` when ``test`` holds, else a usage error (exit 2)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or not test(value):  # value != value: NaN
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _checked(float, lambda v: 0 < v < float("inf"), "a positive number")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--verbose`` (exclusive)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quiet", "-q", action="store_true", help="no notices or progress bar")
    group.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print the model loaded, one line per file and timings",
    )


def add_model_options(p: argparse.ArgumentParser, codebooks: bool = True) -> None:
    """``--model``, ``--device``, ``--num-codebooks`` (with ``codebooks``), ``--force``,
    ``--quiet``, ``--verbose``."""
    p.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        help=f"export dir, .ckpt, encodec_24khz:PATH or a bundled model (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    if codebooks:
        p.add_argument(
            "--num-codebooks", "-k", type=positive_int, help="codebooks to keep (default: all)"
        )
    p.add_argument("--force", "-f", action="store_true", help="overwrite existing outputs")
    add_output_options(p)


def add_stream_above(p: argparse.ArgumentParser) -> None:
    """``--stream-above SECONDS``."""
    p.add_argument(
        "--stream-above",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="process longer files chunk by chunk in bounded memory (causal models; default 600)",
    )


def open_model(args: argparse.Namespace, spec: str | None = None) -> Codec:
    """``spec`` (default ``--model``) on ``--device``, checked against ``--num-codebooks`` when
    given; a bad spec is a :class:`UsageError`. ``--verbose`` prints what was loaded."""
    spec = spec or args.model
    start = time.perf_counter()
    try:
        codec = load_model(spec, args.device)
        if isinstance(getattr(args, "num_codebooks", None), int):  # eval's -k is a list
            codec.check_num_codebooks(args.num_codebooks)
    except ValueError as exc:
        raise UsageError(f"--model {spec}: {one_line(exc, spec)}") from None
    if getattr(args, "verbose", False):
        print(
            f"model {codec.config.model_id!r} from {spec}: {codec.sample_rate} Hz, "
            f"{codec.num_codebooks} codebooks, {codec.bitrate() / 1000:g} kbps, on "
            f"{codec.device}, loaded in {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
    return codec


def check_writable(folder: Path, clean: bool = True) -> None:
    """Create ``folder`` and check a file can be made in it (before any work is done); with
    ``clean``, temp files a killed run left there are removed (not when workers on other
    machines share the folder: their live temp files look stale from here)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        if clean:
            remove_stale_temps(folder, recursive=True)
    except OSError as exc:
        raise OSError(
            f"{folder}: output folder is not writable ({one_line(exc, folder)})"
        ) from None


def check_not_input(out: Path, sources: list[Path]) -> None:
    """A :class:`UsageError` when ``-o`` names one of the inputs (it would be overwritten, or
    read as a folder)."""
    target = out.resolve()
    for source in sources:
        if source.resolve() == target:
            raise UsageError(f"-o {out}: the output is the input {source}; give another name")


def add_shard_options(p: argparse.ArgumentParser) -> None:
    """``--num-shards N --shard-index I``: this process is worker I of N."""
    p.add_argument(
        "--num-shards",
        type=positive_int,
        metavar="N",
        help="split the inputs over N workers (default: torchrun's WORLD_SIZE, a Slurm array or "
        "srun step, else 1)",
    )
    p.add_argument(
        "--shard-index",
        type=non_negative_int,
        metavar="I",
        help="this worker's index in 0..N-1 (default: RANK, the Slurm array task or SLURM_PROCID)",
    )


def shard_spec(args: argparse.Namespace) -> ShardSpec:
    """The worker's place from ``--num-shards/--shard-index`` or the launcher's environment
    (a :class:`UsageError` when inconsistent); with several workers on a node, ``--device auto``
    or ``cuda`` becomes the local rank's GPU."""
    try:
        spec = resolve_shard_spec(args.num_shards, args.shard_index)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if spec.count > 1 and torch.cuda.is_available():
        args.device = local_device(args.device, torch.cuda.device_count())
    return spec
