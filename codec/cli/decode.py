"""``codec decode``: ``.tok`` files and folders -> audio; ``-`` reads one token file from stdin,
``-o -`` writes one audio stream (``--format``) to stdout."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from codec.audio import AUDIO_OUT, write_audio
from codec.cli.console import Console
from codec.cli.options import (
    UsageError,
    add_model_options,
    add_stream_above,
    check_writable,
    open_model,
)
from codec.cli.stdio import STDIO, check_stdout, spool_stdin, write_stdout
from codec.encoding import collect_inputs
from codec.errors import USER_ERRORS, one_line
from codec.model import Codec
from codec.streaming import decode_blocks
from codec.tokens import Tokens

__all__ = ["add_parser", "check_model", "decode_file", "run"]


def add_parser(sub: Any) -> None:
    """Register ``decode`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("decode", help=".tok files/folders -> audio")
    p.add_argument("tokens", nargs="+", metavar="TOKENS", help=".tok files or folders; - for stdin")
    p.add_argument(
        "-o", "--output", required=True, help="OUT.wav (one input), a folder, or - for stdout"
    )
    add_model_options(p, codebooks=False)
    p.add_argument(
        "--format",
        choices=["wav", "flac", "ogg"],
        default="wav",
        help="audio format in folder mode and on stdout (wav)",
    )
    p.add_argument(
        "--allow-model-mismatch",
        action="store_true",
        help="decode tokens made by another model with the same layout (refused by default)",
    )
    add_stream_above(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode; 0 when every file worked, 1 when any failed."""
    console = Console(args.quiet, args.verbose)
    if STDIO in args.tokens and len(args.tokens) > 1:
        raise UsageError("- (stdin) must be the only input")
    if args.output == STDIO:
        check_stdout()
    codec = open_model(args)
    with tempfile.TemporaryDirectory(prefix="codec-decode-") as tmp:
        found, out, single, names = _plan(args, Path(tmp))
        failed = done = 0
        max_items = 1 if args.output == STDIO else None
        for source, rel in found:
            target = out if single else out / rel.with_suffix(f".{args.format}")
            start = time.perf_counter()
            try:
                n = decode_file(
                    codec,
                    source,
                    target,
                    args.force,
                    args.stream_above,
                    max_items,
                    args.allow_model_mismatch,
                )
            except USER_ERRORS as exc:
                failed += 1
                path = target if isinstance(exc, OSError) else source
                console.error(names.get(path, path), one_line(exc, path))
                continue
            done += n
            seconds = time.perf_counter() - start
            console.info(
                f"{names.get(source, source)} -> {names.get(target, target)} ({seconds:.2f} s)"
            )
        if args.output == STDIO and not failed:
            write_stdout(out)
    if not args.quiet or failed:
        print(f"decoded {done} item(s), failed {failed} file(s)", file=sys.stderr)
    return 1 if failed else 0


def _plan(
    args: argparse.Namespace, tmp: Path
) -> tuple[list[tuple[Path, Path]], Path, bool, dict[Path, str]]:
    """The token files, the output, whether it is one file, and the names to print for the temp
    files that stand for stdin/stdout."""
    names: dict[Path, str] = {}
    if args.tokens == [STDIO]:
        found = [(spool_stdin(tmp, "stdin.tok"), Path("stdin.tok"))]
        names[found[0][0]] = "<stdin>"
    else:
        found = collect_inputs(args.tokens, [".tok"])
        if not found:
            raise UsageError(f"no token files (.tok) found in {' '.join(args.tokens)}")
    if args.output == STDIO:
        if len(found) != 1:
            raise UsageError(
                f"-o - writes one audio stream; {len(found)} token files need a folder"
            )
        out = tmp / f"stdout.{args.format}"
        names[out] = "<stdout>"
        return found, out, True, names
    out = Path(args.output)
    single = len(found) == 1 and out.suffix.lower() in AUDIO_OUT
    if out.suffix.lower() in AUDIO_OUT and not single:
        raise UsageError(f"{len(found)} token files need an output folder, not {out}")
    check_writable(out.parent if single else out)
    return found, out, single, names


def decode_file(
    codec: Codec,
    source: Path,
    target: Path,
    force: bool,
    stream_above: float,
    max_items: int | None = None,
    allow_model_mismatch: bool = False,
) -> int:
    """Decode every item of a token file; a batch of B > 1 writes ``name-<i>.wav`` (more than
    ``max_items`` items is an error). Tokens of another model are refused unless
    ``allow_model_mismatch`` (the layout must fit all the same)."""
    tokens = Tokens.load(source)
    check_model(codec, tokens, allow_model_mismatch)
    batch = tokens.codes.shape[0]
    if max_items is not None and batch > max_items:
        raise ValueError(f"holds {batch} items; -o - writes one, give an output folder")
    names = (
        [target]
        if batch == 1
        else [target.with_name(f"{target.stem}-{i}{target.suffix}") for i in range(batch)]
    )
    existing = [n for n in names if n.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]}: exists (use --force to overwrite)")
    for i, name in enumerate(names):
        item = tokens.item(i)
        long = int(item.num_samples[0]) > stream_above * codec.sample_rate
        blocks = decode_blocks(codec, item) if long and codec.config.seanet.causal else None
        audio = blocks or [codec.decode(item)[0]]
        write_audio(name, audio, codec.sample_rate, force, codec.channels)
    return len(names)


def check_model(codec: Codec, tokens: Tokens, allow_mismatch: bool = False) -> None:
    """Raise ``ValueError`` unless ``tokens`` fit ``codec`` and (unless ``allow_mismatch``)
    were made by it: same fingerprint, or for tokens without one the same model id."""
    if not allow_mismatch:
        tokens.check_made_by(codec.config.model_id, codec.fingerprint)
    codec.check_tokens(tokens)
