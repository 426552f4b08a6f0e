"""``codec stream``: a file or raw PCM on stdin through the codec chunk by chunk, with the
per-chunk latency."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from soundfile import SoundFile
from torch import Tensor

from codec.audio import (
    AUDIO_OUT,
    AudioError,
    audio_info,
    conversion_notices,
    open_writer,
    output_errors,
    raw_chunks,
    read_blocks,
    resample_blocks,
    wav_truncation,
    write_block,
)
from codec.cli.console import Console, counted
from codec.cli.options import (
    UsageError,
    add_model_options,
    open_model,
    positive_float,
    positive_int,
)
from codec.cli.stdio import refuse_stdio
from codec.fileio import atomic_path
from codec.model import Codec
from codec.streaming import stream_codec

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``stream`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("stream", help="stream a file or raw stdin PCM through the codec")
    p.add_argument("input", metavar="IN", help="audio file, or - for raw PCM on stdin")
    p.add_argument("-o", "--output", help="decoded audio, written as it comes")
    p.add_argument("--tokens", "-t", help="also write the tokens to this .tok file")
    p.add_argument("--chunk-ms", type=positive_float, default=20.0, help="input chunk size (20 ms)")
    p.add_argument("--raw-rate", type=positive_int, help="stdin sample rate (Hz)")
    p.add_argument(
        "--raw-format", choices=["s16le", "f32le"], default="s16le", help="stdin sample format"
    )
    p.add_argument("--raw-channels", type=positive_int, default=1, help="stdin channels (1)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Stream; print the latency report on stdout."""
    reason = "stream prints its latency report on stdout; give a file"
    refuse_stdio([args.output, args.tokens], "-o/--tokens", reason)
    codec = open_model(args)
    outputs = [Path(p) for p in (args.output, args.tokens) if p]
    for path in outputs:
        if path.exists() and not args.force:
            raise FileExistsError(f"{path}: exists (use --force to overwrite)")
    if args.output and Path(args.output).suffix.lower() not in AUDIO_OUT:
        raise UsageError(f"-o {args.output}: use an audio file name ({', '.join(AUDIO_OUT)})")
    if not codec.config.seanet.causal:
        raise UsageError(f"--model {args.model}: a non-causal model cannot stream")
    chunks, rate = _stream_source(args, codec)
    console = Console(args.quiet, args.verbose)
    if args.input != "-" and console.shows_progress:  # stdin: no known length
        console.start(audio_info(args.input).duration, "streaming")
        chunks = counted(chunks, codec.sample_rate, console.advance)
    decode = bool(args.output) or not args.tokens
    with ExitStack() as stack:
        on_audio = None
        if args.output:
            out = Path(args.output)
            stack.enter_context(output_errors(out))  # errors of the temp file name -o
            tmp = stack.enter_context(atomic_path(out, force=args.force))
            stack.enter_context(output_errors(out, tmp))  # closing the writer can fail too
            writer = stack.enter_context(
                open_writer(tmp, codec.sample_rate, codec.channels, "PCM_16")
            )
            on_audio = partial(_write, writer, out, tmp)
        try:
            result = stream_codec(codec, chunks, args.num_codebooks, decode, on_audio)
        except AudioError as exc:
            raise AudioError(f"{args.input}: {exc}") from None
        finally:
            console.stop()
    if args.tokens:
        with output_errors(Path(args.tokens)):
            result.tokens.save(args.tokens, force=args.force)
    seconds = result.samples / codec.sample_rate
    _latency_report(result.latencies, seconds, args.chunk_ms, rate, decode, codec)
    return 0


def _write(writer: SoundFile, out: Path, tmp: Path, audio: Tensor) -> int:
    """Write a decoded block ``[1, C, n]``; errors name ``out`` (a full disk says so)."""
    with output_errors(out, tmp):
        return write_block(writer, audio, room=1 << 62)


def _stream_source(args: argparse.Namespace, codec: Codec) -> tuple[Iterator[Tensor], int]:
    """Chunks ``[C, n]`` at the model's rate, and the input's own rate."""
    if args.input == "-":
        if not args.raw_rate:
            raise UsageError("reading raw PCM from stdin needs --raw-rate")
        rate = args.raw_rate
        size = max(1, round(args.chunk_ms * rate / 1000))
        chunks = raw_chunks(sys.stdin.buffer, size, args.raw_channels, args.raw_format)
        return resample_blocks(chunks, rate, codec.sample_rate, args.raw_channels), rate
    info = audio_info(args.input)
    problem = wav_truncation(Path(args.input))
    if problem:
        raise AudioError(f"{args.input}: {problem}")
    for _, message in conversion_notices(info, codec.sample_rate, codec.channels):
        print(f"note: {args.input}: {message}", file=sys.stderr)
    seconds = args.chunk_ms / 1000
    return read_blocks(Path(args.input), info, codec.sample_rate, seconds), info.sample_rate


def _latency_report(
    latencies: list[float], seconds: float, chunk_ms: float, rate: int, decode: bool, codec: Codec
) -> None:
    ms = np.array(latencies or [0.0]) * 1000
    what = "encode+decode" if decode else "encode"
    print(
        f"streamed {seconds:.2f} s in {len(latencies)} chunks of {chunk_ms:g} ms ({rate} Hz input)\n"
        f"  per-chunk {what} latency: p50 {np.percentile(ms, 50):.2f} ms, "
        f"p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms\n"
        f"  real-time factor {ms.sum() / 1000 / max(seconds, 1e-9):.3f} "
        f"(algorithmic latency >= one frame, {1000 * codec.hop_length / codec.sample_rate:g} ms)"
    )
