"""The ``codec`` command line: encode / decode / roundtrip / stream / info (+ plug-ins).

Thin over the library: :mod:`codec.encoding` does batch encoding and resume,
:mod:`codec.loading` reads ``--model``, :mod:`codec.streaming` streams.
User errors print ``error: <file>: <message>`` (never a traceback); the exit code is 0 when
everything worked, 1 when any file failed, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from codec import __version__
from codec.audio import (
    AUDIO_EXTENSIONS,
    AUDIO_OUT,
    AudioError,
    audio_info,
    open_writer,
    raw_chunks,
    read_blocks,
    resample_blocks,
    write_audio,
    write_block,
)
from codec.encoding import (
    FileEncoder,
    collect_inputs,
    conversion_notices,
    load_item,
    plan_jobs,
    wav_truncation,
)
from codec.errors import USER_ERRORS, one_line
from codec.fileio import atomic_path
from codec.loading import load_model
from codec.model import Codec
from codec.streaming import decode_blocks, stream_codec
from codec.tokens import MAGIC, Tokens

Runner = Callable[[argparse.Namespace], int]


class UsageError(ValueError):
    """Bad arguments (exit code 2)."""


# ------------------------------------------------------------------------- console
class Console:
    """stderr reporting: errors, de-duplicated notices, an optional progress bar."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.seen: set[str] = set()
        self.suppressed = 0
        self.bar: Any = None
        self.done = self.total = 0.0

    def error(self, path: Path | str, message: str) -> None:
        print(f"error: {path}: {message}", file=sys.stderr)

    def notice(self, kind: str, path: Path | str, message: str) -> None:
        if kind in self.seen:
            self.suppressed += 1
            return
        self.seen.add(kind)
        if not self.quiet:
            print(f"note: {path}: {message}", file=sys.stderr)

    def start(self, total: float) -> None:
        self.total, self.done = total, 0.0
        if self.quiet or not sys.stderr.isatty():
            return
        try:
            from rich.console import Console as RichConsole
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:
            self.bar = "plain"
            return
        self.bar = Progress(
            TextColumn("encoding"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% of {task.total:.0f} s audio"),
            TimeRemainingColumn(),
            console=RichConsole(stderr=True),
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("encode", total=max(total, 1e-9))

    def advance(self, seconds: float) -> None:
        self.done += seconds
        if self.bar == "plain":
            pct = 100 * self.done / max(self.total, 1e-9)
            print(f"\rencoding {pct:3.0f}% of {self.total:.0f} s audio", end="", file=sys.stderr)
        elif self.bar is not None:
            self.bar.update(self.task, advance=seconds)

    def stop(self) -> None:
        if self.bar == "plain":
            print(file=sys.stderr)
        elif self.bar is not None:
            self.bar.stop()
        self.bar = None
        if self.suppressed and not self.quiet:
            print(f"note: {self.suppressed} more similar notices not shown", file=sys.stderr)


# ------------------------------------------------------------------------- encode
def run_encode(args: argparse.Namespace) -> int:
    console = Console(args.quiet)
    codec = _model(args)
    exts = [e.strip() for e in args.ext.split(",") if e.strip()]
    found = collect_inputs(args.inputs, exts)
    if not found:
        raise UsageError(f"no audio files ({', '.join(exts)}) found in {' '.join(args.inputs)}")
    out = Path(args.output)
    single = len(found) == 1 and out.suffix == ".tok" and not Path(args.inputs[0]).is_dir()
    if out.suffix == ".tok" and not single:
        raise UsageError(f"{len(found)} inputs need an output folder, not {out}")
    _check_writable(out.parent if single else out)
    jobs = plan_jobs(found, out, single)
    encoder = FileEncoder(
        codec,
        args.num_codebooks,
        args.batch_size,
        args.workers,
        args.force,
        stream_above=args.stream_above,
        batch_seconds=args.batch_seconds,
    )
    encoder.on_error, encoder.on_notice = console.error, console.notice
    encoder.on_start, encoder.on_progress = console.start, console.advance
    try:
        report = encoder.run(jobs)
    finally:
        console.stop()
    speed = report.audio_seconds / max(report.wall_seconds, 1e-9)
    failed = len(report.failures)
    if not args.quiet or failed:
        print(
            f"encoded {report.encoded} file(s) ({report.audio_seconds:.1f} s audio, {speed:.1f}x "
            f"real time), skipped {report.skipped} up to date, failed {failed}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OSError(
            f"{folder}: output folder is not writable ({one_line(exc, folder)})"
        ) from None


def _model(args: argparse.Namespace) -> Codec:
    try:
        codec = load_model(args.model, args.device)
        if getattr(args, "num_codebooks", None) is not None:
            codec.check_num_codebooks(args.num_codebooks)
    except ValueError as exc:
        raise UsageError(f"--model {args.model}: {one_line(exc, args.model)}") from None
    return codec


# ------------------------------------------------------------------------- decode
def run_decode(args: argparse.Namespace) -> int:
    console = Console(args.quiet)
    codec = _model(args)
    found = collect_inputs(args.tokens, [".tok"])
    if not found:
        raise UsageError(f"no token files (.tok) found in {' '.join(args.tokens)}")
    out = Path(args.output)
    single = len(found) == 1 and out.suffix.lower() in AUDIO_OUT
    if out.suffix.lower() in AUDIO_OUT and not single:
        raise UsageError(f"{len(found)} token files need an output folder, not {out}")
    _check_writable(out.parent if single else out)
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
    if tokens.model_id != codec.config.model_id:
        raise ValueError(
            f"tokens were made by model {tokens.model_id!r}, not {codec.config.model_id!r}"
        )
    codec.check_tokens(tokens)


# ------------------------------------------------------------------------- roundtrip
def run_roundtrip(args: argparse.Namespace) -> int:
    from codec.metrics import mel_distance, si_sdr

    console = Console(args.quiet)
    codec = _model(args)
    source, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in AUDIO_OUT:
        raise UsageError(f"-o {out}: use an audio file name ({', '.join(AUDIO_OUT)})")
    if out.exists() and not args.force:
        raise FileExistsError(f"{out}: exists (use --force to overwrite)")
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
    t0 = time.perf_counter()
    try:
        tokens = codec.encode_many([item.wav], args.num_codebooks)
    except ValueError as exc:
        raise ValueError(f"{source}: {one_line(exc, source)}") from None
    t1 = time.perf_counter()
    audio = codec.decode(tokens)
    t2 = time.perf_counter()
    write_audio(out, [audio[0]], codec.sample_rate, args.force, codec.channels)
    seconds = wav.shape[-1] / codec.sample_rate
    ref, est = wav.mean(1, keepdim=True), audio.mean(1, keepdim=True)
    lines = [
        f"{source} -> {out} (model {codec.config.model_id})",
        f"  audio         {seconds:.2f} s at {codec.sample_rate} Hz",
        f"  tokens        {tokens.num_codebooks} codebooks x {tokens.num_frames} frames "
        f"({tokens.frame_rate:g} frames/s, {tokens.codebook_size} codes)",
        f"  bitrate       {tokens.bitrate / 1000:.3g} kbps",
        f"  SI-SDR        {float(si_sdr(est, ref)[0]):.2f} dB",
        f"  mel distance  {float(mel_distance(est, ref, codec.sample_rate)):.3f}",
        f"  time          encode {t1 - t0:.3f} s, decode {t2 - t1:.3f} s "
        f"(real-time factor {(t2 - t0) / seconds:.3f})",
    ]
    print("\n".join(lines))
    return 0


# ------------------------------------------------------------------------- stream
def run_stream(args: argparse.Namespace) -> int:
    codec = _model(args)
    outputs = [Path(p) for p in (args.output, args.tokens) if p]
    for path in outputs:
        if path.exists() and not args.force:
            raise FileExistsError(f"{path}: exists (use --force to overwrite)")
    if args.output and Path(args.output).suffix.lower() not in AUDIO_OUT:
        raise UsageError(f"-o {args.output}: use an audio file name ({', '.join(AUDIO_OUT)})")
    if not codec.config.seanet.causal:
        raise UsageError(f"--model {args.model}: a non-causal model cannot stream")
    if args.chunk_ms <= 0:
        raise UsageError("--chunk-ms must be positive")
    chunks, rate = _stream_source(args, codec)
    decode = bool(args.output) or not args.tokens
    with ExitStack() as stack:
        on_audio = None
        if args.output:
            tmp = stack.enter_context(atomic_path(args.output, force=args.force))
            writer = stack.enter_context(
                open_writer(tmp, codec.sample_rate, codec.channels, "PCM_16")
            )
            on_audio = partial(write_block, writer, room=1 << 62)
        try:
            result = stream_codec(codec, chunks, args.num_codebooks, decode, on_audio)
        except AudioError as exc:
            raise AudioError(f"{args.input}: {exc}") from None
    if args.tokens:
        result.tokens.save(args.tokens, force=args.force)
    seconds = result.samples / codec.sample_rate
    _latency_report(result.latencies, seconds, args.chunk_ms, rate, decode, codec)
    return 0


def _stream_source(args: argparse.Namespace, codec: Codec) -> tuple[Iterator[Tensor], int]:
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


# ------------------------------------------------------------------------- info
def run_info(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_file() and path.read_bytes()[:4] == MAGIC:
        print(token_info(path, Tokens.load(path)))
    elif path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS + (".mp3",):
        info = audio_info(path)
        print(
            f"{path}: audio, {info.sample_rate} Hz, {info.channels} channel(s), {info.subtype}, "
            f"{info.frames} samples ({info.duration:.2f} s)"
        )
    elif path.suffix == ".tok":
        Tokens.load(path)  # raises a clear TokensFormatError
    else:
        print(model_info(str(path), load_model(str(path), "cpu")))
    return 0


def model_info(spec: str, codec: Codec) -> str:
    cfg, q = codec.config, codec.config.quantizer
    params = sum(p.numel() for p in codec.parameters())
    per = codec.bitrate(codec.groups) / 1000
    return "\n".join(
        [
            f"{spec}: codec model {cfg.model_id!r}",
            f"  sample rate   {codec.sample_rate} Hz, {codec.channels} channel(s)",
            f"  frames        {codec.frame_rate:g} frames/s (hop {codec.hop_length} samples)",
            f"  quantizer     {q.groups} group(s) x {q.num_levels} levels x {q.codebook_size} codes"
            f" (K = {codec.num_codebooks} codebooks, group-major)",
            f"  bitrate       {codec.bitrate() / 1000:g} kbps at K={codec.num_codebooks}, "
            f"{per:g} kbps per level",
            f"  causal        {cfg.seanet.causal} (streaming {'yes' if cfg.seanet.causal else 'no'})",
            f"  parameters    {params / 1e6:.2f} M",
        ]
    )


def token_info(path: Path, tokens: Tokens) -> str:
    frames = tokens.lengths.tolist()
    seconds = [n / tokens.sample_rate for n in tokens.num_samples.tolist()]
    return "\n".join(
        [
            f"{path}: tokens from model {tokens.model_id!r}",
            f"  sample rate   {tokens.sample_rate} Hz, {tokens.frame_rate:g} frames/s",
            f"  layout        [B={tokens.codes.shape[0]}, K={tokens.num_codebooks}, "
            f"T={tokens.num_frames}], {tokens.groups} group(s) x {tokens.levels} levels, "
            f"group-major, {tokens.codebook_size} codes",
            f"  bitrate       {tokens.bitrate / 1000:g} kbps",
            f"  frames        {', '.join(map(str, frames[:8]))}{' ...' if len(frames) > 8 else ''}",
            f"  duration      {sum(seconds):.2f} s in {len(seconds)} item(s)",
            f"  file size     {path.stat().st_size} bytes",
        ]
    )


# ------------------------------------------------------------------------- parser
def _add_model(p: argparse.ArgumentParser, codebooks: bool = True) -> None:
    p.add_argument("--model", "-m", required=True, help="export dir, .ckpt or encodec_24khz:PATH")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    if codebooks:
        p.add_argument("--num-codebooks", "-k", type=int, help="codebooks to keep (default: all)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quiet", "-q", action="store_true", help="no notices or progress bar")


def _stream_above(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stream-above",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="process longer files chunk by chunk in bounded memory (causal models; default 600)",
    )


def add_encode_parser(sub: Any) -> None:
    p = sub.add_parser("encode", help="audio files/folders/lists/manifests -> .tok files")
    p.add_argument("inputs", nargs="+", metavar="IN", help="files, folders, .txt lists, .jsonl")
    p.add_argument("-o", "--output", required=True, help="OUT.tok (one input) or a folder")
    _add_model(p)
    p.add_argument("--batch-size", "-b", type=int, default=16, help="files per batch (16)")
    p.add_argument(
        "--batch-seconds",
        type=float,
        default=30.0,
        help="padded audio per batch (30 s suits CPU caches; raise it on a GPU)",
    )
    p.add_argument("--workers", "-j", type=int, default=0, help="loader processes (0)")
    p.add_argument("--ext", default="wav,flac,ogg", help="suffixes scanned in folders")
    _stream_above(p)


def add_decode_parser(sub: Any) -> None:
    p = sub.add_parser("decode", help=".tok files/folders -> audio")
    p.add_argument("tokens", nargs="+", metavar="TOKENS", help=".tok files or folders")
    p.add_argument("-o", "--output", required=True, help="OUT.wav (one input) or a folder")
    _add_model(p, codebooks=False)
    p.add_argument("--format", choices=["wav", "flac", "ogg"], default="wav", help="folder mode")
    _stream_above(p)


def add_roundtrip_parser(sub: Any) -> None:
    p = sub.add_parser("roundtrip", help="encode + decode one file, print bitrate and metrics")
    p.add_argument("input", metavar="IN")
    p.add_argument("-o", "--output", required=True, help="OUT.wav")
    _add_model(p)


def add_stream_parser(sub: Any) -> None:
    p = sub.add_parser("stream", help="stream a file or raw stdin PCM through the codec")
    p.add_argument("input", metavar="IN", help="audio file, or - for raw PCM on stdin")
    p.add_argument("-o", "--output", help="decoded audio, written as it comes")
    p.add_argument("--tokens", "-t", help="also write the tokens to this .tok file")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="input chunk size (20 ms)")
    p.add_argument("--raw-rate", type=int, help="stdin sample rate (Hz)")
    p.add_argument("--raw-format", choices=["s16le", "f32le"], default="s16le")
    p.add_argument("--raw-channels", type=int, default=1)
    _add_model(p)


def add_info_parser(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a model, a token file or an audio file")
    p.add_argument("file", metavar="FILE", help="model dir / .ckpt / PRESET:PATH, .tok, audio")


def add_convert_parser(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert EnCodec 24 kHz weights to this package's format")
    p.add_argument("src", help="encodec_24khz-d7cc33bc.th, a .safetensors file or HF directory")
    p.add_argument("dst", help="output directory (config.json + model.safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite an existing export")


def run_convert(args: argparse.Namespace) -> int:
    from codec.loading import convert_to_pretrained

    out = convert_to_pretrained(args.src, args.dst, force=args.force)
    print(f"wrote {out}")
    return 0


def _plugin(module: str, add: str, run: str) -> tuple[Callable[[Any], None], Runner] | None:
    """An optional subcommand from another module; None when that module is unavailable."""
    import importlib

    try:
        mod = importlib.import_module(module)
        return getattr(mod, add), getattr(mod, run)
    except Exception:  # a missing or broken plug-in must not take the other commands down
        return None


def commands() -> list[tuple[Callable[[Any], None], Runner]]:
    """The subcommand registry: (add parser, run) pairs, built-ins first."""
    builtin: list[tuple[Callable[[Any], None], Runner]] = [
        (add_encode_parser, run_encode),
        (add_decode_parser, run_decode),
        (add_roundtrip_parser, run_roundtrip),
        (add_stream_parser, run_stream),
        (add_info_parser, run_info),
        (add_convert_parser, run_convert),
    ]
    plugins = [
        _plugin("codec.evaluate", "add_eval_parser", "run_eval"),
        _plugin("codec.lm.export", "add_export_parser", "run_export"),
    ]
    return builtin + [p for p in plugins if p is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codec", description="Neural audio codec tools.")
    parser.add_argument("--version", action="version", version=f"codec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add, run in commands():
        before = set(sub.choices)
        add(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``codec`` and ``infer.py``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        with torch.no_grad():
            return int(args._run(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except USER_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
