"""``codec roundtrip``: encode and decode one file, print bitrate, quality and speed."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from torch import Tensor

from codec.audio import (
    AUDIO_OUT,
    AudioError,
    audio_info,
    conversion_notices,
    wav_truncation,
    write_audio,
)
from codec.cli.console import Console
from codec.cli.options import UsageError, add_model_options, open_model
from codec.cli.stdio import refuse_stdio
from codec.encoding import load_item
from codec.errors import one_line
from codec.metrics import mel_distance, si_sdr
from codec.model import Codec
from codec.tokens import Tokens, payload_bytes

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``roundtrip`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("roundtrip", help="encode + decode one file, print bitrate and metrics")
    p.add_argument("input", metavar="IN", help="audio file")
    p.add_argument("-o", "--output", required=True, help="OUT.wav (the decoded audio)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Round-trip ``IN`` to ``-o``; print the summary on stdout."""
    console = Console(args.quiet, args.verbose)
    refuse_stdio([args.input], "IN", "roundtrip reads a file (codec encode - reads stdin)")
    refuse_stdio([args.output], "-o", "roundtrip prints its summary on stdout; give OUT.wav")
    codec = open_model(args)
    source, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in AUDIO_OUT:
        raise UsageError(f"-o {out}: use an audio file name ({', '.join(AUDIO_OUT)})")
    if out.exists() and not args.force:
        raise FileExistsError(f"{out}: exists (use --force to overwrite)")
    wav = _reference(source, codec, console)
    seconds = wav.shape[-1] / codec.sample_rate
    t0 = time.perf_counter()
    console.start(seconds, "encoding")
    try:
        tokens = codec.encode_many([wav[0]], args.num_codebooks)
    except ValueError as exc:
        raise ValueError(f"{source}: {one_line(exc, source)}") from None
    finally:
        console.stop()
    t1 = time.perf_counter()
    console.start(seconds, "decoding")
    try:
        audio = codec.decode(tokens)
    finally:
        console.stop()
    t2 = time.perf_counter()
    write_audio(out, [audio[0]], codec.sample_rate, args.force, codec.channels)
    print("\n".join(_summary(source, out, codec, tokens, wav, audio, (t0, t1, t2))))
    return 0


def _reference(source: Path, codec: Codec, console: Console) -> Tensor:
    """``source`` at the model's rate and channels, ``[1, C, T]``; unusable input raises
    :class:`AudioError`."""
    info = audio_info(source)
    problem = wav_truncation(source)
    if problem:
        raise AudioError(f"{source}: {problem}")
    for kind, message in conversion_notices(info, codec.sample_rate, codec.channels):
        console.notice(kind, source, message)
    item = load_item(source, codec.sample_rate, codec.channels)
    if item.wav is None:
        raise AudioError(f"{source}: {item.error}")
    wav = item.wav[None]
    if wav.shape[-1] < codec.hop_length:
        raise AudioError(
            f"{source}: too short ({wav.shape[-1]} samples, one frame needs {codec.hop_length})"
        )
    return wav


def _summary(
    source: Path,
    out: Path,
    codec: Codec,
    tokens: Tokens,
    wav: Tensor,
    audio: Tensor,
    times: tuple[float, float, float],
) -> list[str]:
    """The printed lines: audio, tokens, bitrate, SI-SDR, mel distance and timing."""
    t0, t1, t2 = times
    seconds = wav.shape[-1] / codec.sample_rate
    ref, est = wav.mean(1, keepdim=True), audio.mean(1, keepdim=True)
    return [
        f"{source} -> {out} (model {codec.config.model_id})",
        f"  audio         {seconds:.2f} s at {codec.sample_rate} Hz",
        f"  tokens        {tokens.num_codebooks} codebooks x {tokens.num_frames} frames "
        f"({tokens.frame_rate:g} frames/s, {tokens.codebook_size} codes)",
        f"  bitrate       {tokens.bitrate / 1000:.3g} kbps nominal, "
        f"{payload_bytes(tokens.to_bytes()) * 8 / seconds / 1000:.4g} kbps in a .tok's codes",
        f"  SI-SDR        {float(si_sdr(est, ref)[0]):.2f} dB",
        f"  mel distance  {float(mel_distance(est, ref, codec.sample_rate)):.3f}",
        f"  time          encode {t1 - t0:.3f} s, decode {t2 - t1:.3f} s "
        f"(real-time factor {(t2 - t0) / seconds:.3f})",
    ]
