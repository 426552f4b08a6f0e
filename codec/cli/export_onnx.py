"""``codec export-onnx``: streaming-state ONNX graphs of a causal model, with a JSON sidecar."""

from __future__ import annotations

import argparse
from typing import Any

from codec.bundled import DEFAULT_MODEL
from codec.cli.options import UsageError, open_model
from codec.errors import install_hint

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``export-onnx`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser(
        "export-onnx",
        help="write ONNX encoder/decoder graphs with explicit streaming state",
        description="Write encoder_step / decoder_step graphs whose whole streaming state is "
        "inputs and outputs, offline encode / decode graphs (any length) and codec_onnx.json "
        "(rates, shapes, state layout) for onnxruntime, C++ or JS callers. Needs a causal, "
        "zero-padded model.",
    )
    p.add_argument(
        "model",
        nargs="?",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"export dir, .ckpt, PRESET:PATH or a bundled model (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--model",
        "-m",
        dest="model_option",
        metavar="M",
        help="the model, given as an option as in the other subcommands (instead of MODEL)",
    )
    p.add_argument("--output", "-o", required=True, help="output folder")
    p.add_argument("--force", "-f", action="store_true", help="replace an existing folder")
    p.add_argument(
        "--int8", action="store_true", help="also write int8 (dynamically quantized) graphs"
    )
    p.set_defaults(func=run, device="cpu")


def run(args: argparse.Namespace) -> int:
    """Export and print the written folder."""
    try:
        from codec.onnx.export import export_onnx
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is in dev
        raise UsageError(f"ONNX export needs {exc.name}: {install_hint('onnx')}") from None
    if args.model_option is not None:
        if args.model not in (DEFAULT_MODEL, args.model_option):
            raise UsageError(f"two models given: {args.model} and --model {args.model_option}")
        args.model = args.model_option
    codec = open_model(args)
    try:
        result = export_onnx(codec, args.output, force=args.force, int8=args.int8)
    except ValueError as exc:  # the model has no exact step form: a usage error
        raise UsageError(f"{args.model}: {exc}") from None
    except ModuleNotFoundError as exc:
        raise UsageError(f"ONNX export needs {exc.name}: {install_hint('onnx')}") from None
    info = result.sidecar
    print(
        f"wrote {result.folder}: {len(info['graphs'])} graphs"
        f"{' (+ int8)' if 'int8' in info else ''}, {info['sample_rate']} Hz, hop "
        f"{info['hop_length']}, {info['num_codebooks']} codebooks, "
        f"{len(info['encoder_state'])} + {len(info['decoder_state'])} state tensors"
    )
    return 0
