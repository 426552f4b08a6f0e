"""``codec export-hf``: write a model as a Hugging Face ``transformers`` ``EncodecModel`` folder."""

from __future__ import annotations

import argparse
from typing import Any

from codec.cli.options import UsageError, open_model
from codec.export_hf import export_encodec

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``export-hf`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser(
        "export-hf",
        help="write a SEANet + RVQ model as a transformers EncodecModel folder",
        description="Write config.json + model.safetensors that "
        "transformers.EncodecModel.from_pretrained(folder) loads. Only SEANet models with ELU, "
        "weight norm, an LSTM and one residual VQ (groups=1, no projection) fit; others are "
        "refused with the reason.",
    )
    p.add_argument("--model", "-m", required=True, help="export dir, .ckpt, Hub id or PRESET:PATH")
    p.add_argument("--output", "-o", required=True, help="output folder")
    p.add_argument("--force", "-f", action="store_true", help="replace an existing folder")
    p.set_defaults(func=run, device="cpu")


def run(args: argparse.Namespace) -> int:
    """Export and print the written folder."""
    codec = open_model(args)
    try:
        out = export_encodec(codec, codec.config, args.output, force=args.force)
    except ValueError as exc:  # the model does not fit EncodecModel: a usage error
        raise UsageError(f"--model {args.model}: {exc}") from None
    print(f"wrote {out} (transformers EncodecModel)")
    return 0
