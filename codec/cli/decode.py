"""``codec decode``: ``.tok`` files and folders -> audio."""

from __future__ import annotations

import argparse
import sys
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
from codec.encoding import collect_inputs
from codec.errors import USER_ERRORS, one_line
from codec.model import Codec
from codec.streaming import decode_blocks
from codec.tokens import Tokens

__all__ = ["add_parser", "check_model", "decode_file", "run"]


def add_parser(sub: Any) -> None:
    """Register ``decode`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("decode", help=".tok files/folders -> audio")
    p.add_argument("tokens", nargs="+", metavar="TOKENS", help=".tok files or folders")
    p.add_argument("-o", "--output", required=True, help="OUT.wav (one input) or a folder")
    add_model_options(p, codebooks=False)
    p.add_argument("--format", choices=["wav", "flac", "ogg"], default="wav", help="folder mode")
    add_stream_above(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode; 0 when every file worked, 1 when any failed."""
    console = Console(args.quiet)
    codec = open_model(args)
    found = collect_inputs(args.tokens, [".tok"])
    if not found:
        raise UsageError(f"no token files (.tok) found in {' '.join(args.tokens)}")
    out = Path(args.output)
    single = len(found) == 1 and out.suffix.lower() in AUDIO_OUT
    if out.suffix.lower() in AUDIO_OUT and not single:
        raise UsageError(f"{len(found)} token files need an output folder, not {out}")
    check_writable(out.parent if single else out)
    failed = done = 0
    for source, rel in found:
        target = out if single else out / rel.with_suffix(f".{args.format}")
        try:
            done += decode_file(codec, source, target, args.force, args.stream_above)
        except USER_ERRORS as exc:
            failed += 1
            path = target if isinstance(exc, OSError) else source
            console.error(path, one_line(exc, path))
    if not args.quiet or failed:
        print(f"decoded {done} item(s), failed {failed} file(s)", file=sys.stderr)
    return 1 if failed else 0


def decode_file(codec: Codec, source: Path, target: Path, force: bool, stream_above: float) -> int:
    """Decode every item of a token file; a batch of B > 1 writes ``name-<i>.wav``."""
    tokens = Tokens.load(source)
    check_model(codec, tokens)
    names = (
        [target]
        if tokens.codes.shape[0] == 1
        else [
            target.with_name(f"{target.stem}-{i}{target.suffix}")
            for i in range(tokens.codes.shape[0])
        ]
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


def check_model(codec: Codec, tokens: Tokens) -> None:
    """Raise ``ValueError`` unless ``tokens`` were made by ``codec``'s model and fit it."""
    if tokens.model_id != codec.config.model_id:
        raise ValueError(
            f"tokens were made by model {tokens.model_id!r}, not {codec.config.model_id!r}"
        )
    codec.check_tokens(tokens)
