"""``codec info``: describe a model, a token file or an audio file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codec.audio import AUDIO_EXTENSIONS, AudioError, AudioInfo, audio_info
from codec.cli.stdio import refuse_stdio
from codec.errors import one_line
from codec.loading import load_model
from codec.model import Codec
from codec.pretrained import CONFIG_NAME
from codec.tokens import MAGIC, Tokens, payload_bytes

__all__ = ["add_parser", "model_info", "run", "token_info"]


def add_parser(sub: Any) -> None:
    """Register ``info`` on an ``argparse`` sub-parser collection."""
    p = sub.add_parser("info", help="describe a model, a token file or an audio file")
    p.add_argument("file", metavar="FILE", help="model dir / .ckpt / PRESET:PATH, .tok, audio")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the description of ``FILE`` on stdout."""
    refuse_stdio([args.file], "FILE", "info describes a file; give its path")
    path = Path(args.file)
    if path.is_file() and path.read_bytes()[:4] == MAGIC:
        print(token_info(path, Tokens.load(path)))
    elif path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS + (".mp3",):
        print(_audio_line(path, audio_info(path)))
    elif path.suffix == ".tok":
        Tokens.load(path)  # raises a clear TokensFormatError
    elif (
        path.is_file() and path.suffix not in (".ckpt", ".safetensors") and path.name != CONFIG_NAME
    ):
        print(_other_file(path))
    else:
        print(model_info(str(path), load_model(str(path), "cpu")))
    return 0


def _other_file(path: Path) -> str:
    """A file of no suffix this command knows: its audio description when libsndfile reads it
    (e.g. Ogg Opus), else a ``ValueError`` saying what the file is and what ``info`` reads."""
    try:
        info = audio_info(path)
    except AudioError as exc:
        kinds = ", ".join(AUDIO_EXTENSIONS)
        raise ValueError(
            f"{path}: not a file codec reads ({one_line(exc, path)}); info describes a model "
            f"(folder, .ckpt, config.json), a .tok token file or audio ({kinds})"
        ) from None
    return _audio_line(path, info)


def model_info(spec: str, codec: Codec) -> str:
    """Rates, quantizer layout, bitrate, causality and size of a model."""
    cfg, q = codec.config, codec.config.quantizer
    params = sum(p.numel() for p in codec.parameters())
    per = codec.bitrate(codec.groups) / 1000
    return "\n".join(
        [
            f"{spec}: codec model {cfg.model_id!r}",
            f"  sample rate   {codec.sample_rate} Hz, {codec.channels} channel(s)",
            f"  frames        {codec.frame_rate:g} frames/s (hop {codec.hop_length} samples)",
            f"  quantizer     {q.layout_text} (K = {codec.num_codebooks} codebooks, group-major)",
            f"  bitrate       {codec.bitrate() / 1000:g} kbps at K={codec.num_codebooks}, "
            f"{per:g} kbps per level",
            f"  causal        {cfg.seanet.causal} (streaming {'yes' if cfg.seanet.causal else 'no'})",
            f"  parameters    {params / 1e6:.2f} M",
            f"  fingerprint   {codec.fingerprint}",
        ]
    )


def _measured(payload: int, size: int, seconds: float) -> str:
    """The file's bitrate: its codes alone, and with the header (bits per second of audio)."""
    if seconds <= 0:
        return "none: the file holds no audio"
    return (
        f"{payload * 8 / seconds / 1000:.4g} kbps of codes, "
        f"{size * 8 / seconds / 1000:.4g} kbps with the header"
    )


def _audio_line(path: Path, info: AudioInfo) -> str:
    return (
        f"{path}: audio, {info.sample_rate} Hz, {info.channels} channel(s), {info.subtype}, "
        f"{info.frames} samples ({info.duration:.2f} s)"
    )


def token_info(path: Path, tokens: Tokens) -> str:
    """Model, rates, layout, bitrate (nominal and measured on the file), frames, duration and
    size of a token file."""
    frames = tokens.lengths.tolist()
    seconds = [n / tokens.sample_rate for n in tokens.num_samples.tolist()]
    data = path.read_bytes()
    return "\n".join(
        [
            f"{path}: tokens from model {tokens.model_id!r}",
            f"  sample rate   {tokens.sample_rate} Hz, {tokens.frame_rate:g} frames/s",
            f"  layout        [B={tokens.codes.shape[0]}, K={tokens.num_codebooks}, "
            f"T={tokens.num_frames}], {tokens.groups} group(s) x {tokens.levels} levels, "
            f"group-major, {tokens.codebook_size} codes",
            f"  bitrate       {tokens.bitrate / 1000:g} kbps nominal",
            f"  file bitrate  {_measured(payload_bytes(data), len(data), tokens.duration)} "
            f"(format version {data[4]})",
            f"  frames        {', '.join(map(str, frames[:8]))}{' ...' if len(frames) > 8 else ''}",
            f"  duration      {sum(seconds):.2f} s in {len(seconds)} item(s)",
            f"  file size     {path.stat().st_size} bytes",
            f"  fingerprint   {tokens.model_fingerprint or '(none: format version 1)'}",
        ]
    )
