"""Are tokens the same however they were computed? Batched vs one-by-one vs streaming vs re-export.

Run from the repository root: ``python bench/invariance.py [--model SPEC] [--threads 1 2]``.
Prints a Markdown table (paste it into BENCHMARKS.md, section "## Token invariance").

Over the bundled validation speech (``assets/speech/val`` and ``val_seen``, 42 files) with a
trained model (default: the bundled ``speech-16k-6kbps``, whose codebooks were fitted to real
speech, so near-ties between codes occur), per torch thread count:

- batched: files sorted by duration and grouped as ``codec encode`` groups them (at most 16
  items and about 30 s of padded audio per batch), each batch one ``codec.encode`` call, against
  each file encoded alone; also the encoder latents' largest absolute difference;
- streaming: ``codec.streaming(1)`` fed chunks of 1, 2, 3 and 7 frames and of 1000 samples (not
  a multiple of the hop), against the offline encode of the same file; latent difference from the
  encoder streamed in the same chunks;
- re-export: ``export_tokens`` (batch 8, small shards) into a folder, two shards deleted, the
  export re-run (it redoes the missing ones with other batch compositions): byte comparison.

Then the encode speed of the model: offline (all files one by one, and in the CLI's batches)
and streaming in 1-frame chunks, as seconds of audio per second (median of ``--repeats``).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from timing import median_time  # bench/timing.py: the script's folder is on sys.path
from torch import Tensor

from codec.audio import load_audio
from codec.inputs import frame_count, pad_to_frames
from codec.lm.export import export_tokens
from codec.loading import load_model
from codec.model import Codec
from codec.nn.streaming import flush, streaming

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("assets/speech/val", "assets/speech/val_seen")
CHUNK_FRAMES = (1, 2, 3, 7)
ODD_CHUNK = 1000  # samples: not a multiple of any hop we ship


@dataclass
class Diff:
    """Codes that differ, files with at least one, and the largest latent difference."""

    codes: int = 0
    total: int = 0
    files: int = 0
    latent: float = 0.0

    def add(self, a: Tensor, b: Tensor, la: Tensor | None = None, lb: Tensor | None = None) -> None:
        n = int((a != b).sum())
        self.codes += n
        self.total += a.numel()
        self.files += n > 0
        if la is not None and lb is not None:
            self.latent = max(self.latent, float((la - lb).abs().max()))

    def cells(self, files: int) -> str:
        rate = 100 * self.codes / max(self.total, 1)
        return f"{self.codes} ({rate:.2f} %) | {self.files}/{files} | {self.latent:.1e}"


def load_files(codec: Codec) -> list[Tensor]:
    paths = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.flac"))
    return [load_audio(p, codec.sample_rate, codec.channels).wav for p in paths]


def latent(codec: Codec, wav: Tensor) -> Tensor:
    """Encoder latents [B, D, F] of ``wav`` [B, C, T] zero-padded to whole frames."""
    return codec.encoder(wav)


def padded(codec: Codec, wavs: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Batch [B, C, T] zero-padded to whole frames, and the frames per item [B]."""
    lengths = torch.tensor([w.shape[-1] for w in wavs])
    batch = wavs[0].new_zeros(len(wavs), wavs[0].shape[0], int(lengths.max()))
    for i, w in enumerate(wavs):
        batch[i, :, : w.shape[-1]] = w
    frames = frame_count(lengths, codec.hop_length)
    return pad_to_frames(batch, lengths, frames, codec.hop_length), frames


def cli_batches(
    wavs: list[Tensor], size: int = 16, seconds: float = 30.0, sr: int = 16000
) -> list[list[int]]:
    """Indices grouped as ``FileEncoder`` groups files: by duration, <= size items and ~seconds."""
    order = sorted(range(len(wavs)), key=lambda i: wavs[i].shape[-1])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        padded_s = (len(current) + 1) * wavs[i].shape[-1] / sr
        if current and (len(current) >= size or padded_s > seconds):
            batches.append(current)
            current = []
        current.append(i)
    return batches + [current] if current else batches


@torch.inference_mode()
def batched_vs_single(codec: Codec, wavs: list[Tensor], singles: list[Tensor]) -> Diff:
    diff = Diff()
    for group in cli_batches(wavs, sr=codec.sample_rate):
        items = [wavs[i] for i in group]
        tokens = codec.encode_many(items)
        batch, frames = padded(codec, items)
        lat = latent(codec, batch)
        for j, i in enumerate(group):
            n = int(frames[j])
            alone, _ = padded(codec, [wavs[i]])
            diff.add(tokens.codes[j, :, :n], singles[i], lat[j, :, :n], latent(codec, alone)[0])
    return diff


@torch.inference_mode()
def streamed(codec: Codec, wav: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Codes [K, F] from ``codec.streaming(1)`` in chunks of ``chunk`` samples, and latents
    [D, F] of the encoder streamed in the same chunks (whole frames)."""
    codes = []
    with codec.streaming(1) as session:
        for piece in wav.split(chunk, dim=-1):
            codes.append(session.encode_chunk(piece).codes[0])
        codes.append(session.flush().tokens.codes[0])
    whole, _ = padded(codec, [wav])
    step = max(codec.hop_length, chunk - chunk % codec.hop_length)
    parts = []
    with streaming(codec.encoder, 1):
        pieces = whole.split(step, dim=-1)
        for piece in pieces[:-1]:
            parts.append(codec.encoder(piece))
        parts.append(flush(codec.encoder, pieces[-1]))
    return torch.cat(codes, dim=-1), torch.cat(parts, dim=-1)[0]


def stream_vs_offline(codec: Codec, wavs: list[Tensor], singles: list[Tensor], chunk: int) -> Diff:
    diff = Diff()
    for wav, offline in zip(wavs, singles):
        codes, lat = streamed(codec, wav, chunk)
        alone, _ = padded(codec, [wav])
        with torch.inference_mode():
            diff.add(codes, offline, lat, latent(codec, alone)[0])
    return diff


def reexport(codec: Codec, paths: list[Path]) -> tuple[int, int]:
    """(redone shards whose codes differ in bytes from the first export's, shards redone) after
    deleting two shards and re-running the export (it redoes them in other batches)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "shards"
        shards = export_tokens(codec, paths, out, batch_size=8, shard_size=600)["shards"]
        gone = [shards[1], shards[len(shards) // 2]]
        first = {_items(s): (out / s["codes"]).read_bytes() for s in gone}
        for s in gone:
            for key in ("codes", "index"):
                (out / s[key]).unlink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "some listed shards are missing": on purpose
            again = export_tokens(codec, paths, out, batch_size=8, shard_size=600)["shards"]
        redone = {_items(s): (out / s["codes"]).read_bytes() for s in again[-len(gone) :]}
        return sum(redone.get(items) != data for items, data in first.items()), len(gone)


def _items(shard: dict[str, Any]) -> tuple[str, ...]:
    return tuple(item["source"] for item in shard["items"])


@torch.inference_mode()
def speed(codec: Codec, wavs: list[Tensor], repeats: int) -> tuple[float, float, float]:
    """Audio seconds per second: one by one, CLI batches, streaming in 1-frame chunks."""
    audio = sum(w.shape[-1] for w in wavs) / codec.sample_rate
    one = median_time(lambda: [codec.encode_many([w]) for w in wavs], repeats, warmup=0)
    groups = cli_batches(wavs, sr=codec.sample_rate)
    many = median_time(
        lambda: [codec.encode_many([wavs[i] for i in g]) for g in groups], repeats, warmup=0
    )
    some = wavs[:6]
    some_audio = sum(w.shape[-1] for w in some) / codec.sample_rate
    stream = median_time(
        lambda: [streamed_codes(codec, w) for w in some], max(1, repeats // 2), warmup=0
    )
    return audio / one, audio / many, some_audio / stream


def streamed_codes(codec: Codec, wav: Tensor) -> None:
    with codec.streaming(1) as session:
        for piece in wav.split(codec.hop_length, dim=-1):
            session.encode_chunk(piece)
        session.flush()


def run(codec: Codec, threads: int, do_export: bool) -> list[str]:
    torch.set_num_threads(threads)
    wavs = load_files(codec)
    with torch.inference_mode():
        singles = [codec.encode_many([w]).codes[0] for w in wavs]
    rows = [
        f"| {threads} | batched (CLI groups) vs one by one | {batched_vs_single(codec, wavs, singles).cells(len(wavs))} |"
    ]
    hop = codec.hop_length
    for chunk in [n * hop for n in CHUNK_FRAMES] + [ODD_CHUNK]:
        name = f"{chunk // hop} frame(s)" if chunk % hop == 0 else f"{chunk} samples"
        d = stream_vs_offline(codec, wavs, singles, chunk)
        rows.append(
            f"| {threads} | streaming, chunks of {name}, vs offline | {d.cells(len(wavs))} |"
        )
    if do_export:
        paths = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.flac"))
        changed, redone = reexport(codec, paths)
        rows.append(
            f"| {threads} | re-export after deleting {redone} shards | {changed} of {redone} redone shards differ in bytes | | |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="speech-16k-6kbps", help="any --model spec")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds for the speed table")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--only-speed", action="store_true", help="no invariance table")
    args = parser.parse_args()
    codec = load_model(args.model).eval()
    print(f"model {args.model} ({codec.fingerprint[:12]}), torch {torch.__version__}\n")
    print("| threads | comparison | differing codes | files | latent max abs diff |")
    print("|---|---|---|---|---|")
    for threads in [] if args.only_speed else args.threads:
        for row in run(codec, threads, not args.skip_export):
            print(row, flush=True)
    if args.skip_speed:
        return
    print("\n| threads | one by one (s/s) | CLI batches (s/s) | streaming, 1-frame chunks (s/s) |")
    print("|---|---|---|---|")
    wavs = load_files(codec)
    for threads in args.threads:
        torch.set_num_threads(threads)
        one, many, stream = speed(codec, wavs, args.repeats)
        print(f"| {threads} | {one:.0f} | {many:.0f} | {stream:.1f} |", flush=True)


if __name__ == "__main__":
    main()
