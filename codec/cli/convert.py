"""``codec convert``: EnCodec 24 kHz weights -> this package's export format."""

from __future__ import annotations

import argparse
from typing import Any

from codec.loading import convert_to_pretrained

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``convert`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("convert", help="convert EnCodec 24 kHz weights to this package's format")
    p.add_argument("src", help="encodec_24khz-d7cc33bc.th, a .safetensors file or HF directory")
    p.add_argument("dst", help="output directory (config.json + model.safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite an existing export")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert and print the written folder."""
    out = convert_to_pretrained(args.src, args.dst, force=args.force)
    print(f"wrote {out}")
    return 0
