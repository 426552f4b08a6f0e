"""Codec speed against the ``encodec`` package on identical weights, and streaming cost.

Run from the repository root: ``python bench/codec_speed.py [--quick]``. Prints Markdown tables
(paste them into BENCHMARKS.md, section "## Codec speed").

Offline: the peer's causal 24 kHz EnCodec with random weights (fixed seed, codebooks given
random centroids, bench/encodec_peer.py) is converted with ``codec.convert``; both encode and
decode the same 10 s of 24 kHz speech-like audio at 6 kbps (8 codebooks), batch 1 and 8, torch
threads 1 and 2. Timings are interleaved (peer, ours, ours with weight norm folded, in turn)
and the median of the repeats is reported (3x the repeats for batch 1), because the machine may
be shared. Outputs are compared: identical codes, largest audio difference.

Streaming (ours only: the peer has no streaming API): compute per chunk on 1 thread, as a
fraction of the chunk's duration, for chunks of 1, 6, 24 and 75 frames (13.3 ms to 1 s) at 6 and
24 kbps, encode plus decode; then resident memory (``/proc/self/statm``) sampled while streaming
``--stream-minutes`` of audio in 1 s chunks: it must stay flat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encodec_peer import encodec_24khz_random, encodec_decode, encodec_encode  # noqa: E402

from codec.config import PRESETS  # noqa: E402
from codec.convert import convert_encodec_state_dict  # noqa: E402
from codec.data.synthetic import synthetic_speech  # noqa: E402
from codec.model import Codec  # noqa: E402
from codec.nn import remove_weight_norm  # noqa: E402
from codec.tokens import Tokens  # noqa: E402

SR = 24_000
BANDWIDTH = 6.0  # kbps
NUM_CODEBOOKS = 8


def build_models(seed: int = 0) -> tuple[torch.nn.Module, Codec, Codec]:
    """(peer, ours, ours with weight norm folded into the weights), identical weights."""
    peer = encodec_24khz_random(seed)
    state = convert_encodec_state_dict(peer.state_dict())
    ours = Codec(PRESETS["encodec_24khz"]).eval()
    ours.load_state_dict(state)
    fast = Codec(PRESETS["encodec_24khz"]).eval()
    fast.load_state_dict(state)
    remove_weight_norm(fast)
    return peer, ours, fast


def make_audio(batch: int, seconds: float) -> torch.Tensor:
    """[batch, 1, T] speech-like audio, a different voice per item."""
    return torch.stack([synthetic_speech(seconds, SR, seed=10 + i) for i in range(batch)])


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: bool = True
) -> dict[str, float]:
    """Median seconds per function, running them in turn (after one warm-up round)."""
    for fn in fns.values() if warmup else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def compare(
    peer: torch.nn.Module, ours: Codec, fast: Codec, wav: torch.Tensor, repeats: int
) -> tuple[dict[str, float], bool, float]:
    """Median times, whether all codes equal the peer's, the largest audio difference."""
    with torch.inference_mode():
        ref_codes = encodec_encode(peer, wav, BANDWIDTH)
        ref_audio = encodec_decode(peer, ref_codes)[..., : wav.shape[-1]]
        tokens = ours.encode(wav, SR, num_codebooks=NUM_CODEBOOKS)
        fast_codes = fast.encode(wav, SR, num_codebooks=NUM_CODEBOOKS).codes
        same = torch.equal(tokens.codes, ref_codes) and torch.equal(fast_codes, ref_codes)
        diff = max(
            float((ours.decode(tokens) - ref_audio).abs().max()),
            float((fast.decode(tokens) - ref_audio).abs().max()),
        )
        times = interleaved(
            {
                "peer_enc": lambda: encodec_encode(peer, wav, BANDWIDTH),
                "ours_enc": lambda: ours.encode(wav, SR, num_codebooks=NUM_CODEBOOKS),
                "fast_enc": lambda: fast.encode(wav, SR, num_codebooks=NUM_CODEBOOKS),
                "peer_dec": lambda: encodec_decode(peer, ref_codes),
                "ours_dec": lambda: ours.decode(tokens),
                "fast_dec": lambda: fast.decode(tokens),
            },
            repeats,
            warmup=wav.shape[0] == 1,  # a batch of 8 runs long enough to need none
        )
    return times, same, diff


def offline_rows(
    peer: torch.nn.Module, ours: Codec, fast: Codec, seconds: float, repeats: int
) -> list[str]:
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, 8):
            # Batch 1 runs take ~1 s: three times the rounds steadies the median on a noisy host.
            rounds = 3 * repeats if batch == 1 else repeats
            t, same, diff = compare(peer, ours, fast, make_audio(batch, seconds), rounds)
            for op in ("enc", "dec"):
                p, o, f = t[f"peer_{op}"], t[f"ours_{op}"], t[f"fast_{op}"]
                rows.append(
                    f"| {'encode' if op == 'enc' else 'decode'} | {batch} | {threads} "
                    f"| {p:.2f} | {o:.2f} | {f:.2f} | {p / o:.2f}x | {p / f:.2f}x "
                    f"| {'yes' if same else 'NO'} | {diff:.1e} |"
                )
            print(rows[-2], rows[-1], sep="\n", flush=True)
    return rows


def stream_rows(
    model: Codec, frames_per_chunk: tuple[int, ...], seconds: float, codebooks: tuple[int, ...]
) -> list[str]:
    torch.set_num_threads(1)
    wav = make_audio(1, seconds)
    rows = []
    for num_codebooks in codebooks:
        for frames in frames_per_chunk:
            hop = model.hop_length * frames
            times = []
            with torch.inference_mode(), model.streaming(1, num_codebooks) as session:
                for start in range(0, wav.shape[-1] - hop + 1, hop):
                    t0 = time.perf_counter()
                    session.decode_chunk(session.encode_chunk(wav[..., start : start + hop]))
                    times.append(time.perf_counter() - t0)
            times = times[max(2, len(times) // 10) :]  # start-up (reflect padding) and warm-up
            duration = hop / model.sample_rate
            med = statistics.median(times)
            p95 = sorted(times)[int(0.95 * (len(times) - 1))]
            rows.append(
                f"| {num_codebooks} ({1.5 * num_codebooks / 2:g} kbps) "
                f"| {frames} ({1000 * duration:.1f} ms) | {1000 * med:.1f} "
                f"| {med / duration:.2f} | {p95 / duration:.2f} | {len(times)} |"
            )
            print(rows[-1], flush=True)
    return rows


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_row(model: Codec, minutes: float) -> str:
    """Stream ``minutes`` of audio in 1 s chunks (a 10 s clip, looped); sample RSS."""
    torch.set_num_threads(1)
    clip = make_audio(1, 10.0)
    chunk = SR
    total = int(minutes * 60)  # chunks of 1 s
    samples: list[float] = []
    frames = 0
    t0 = time.perf_counter()
    with model.streaming(batch_size=1) as session:
        for i in range(total):
            start = (i % 10) * chunk
            tokens: Tokens = session.encode_chunk(clip[..., start : start + chunk])
            session.decode_chunk(tokens)
            frames += tokens.codes.shape[-1]
            if i % 10 == 9:
                samples.append(rss_mib())
        session.flush()
    wall = time.perf_counter() - t0
    first, last, peak = samples[0], samples[-1], max(samples)
    row = (
        f"| {minutes:g} min ({frames} frames) | {first:.0f} | {last:.0f} | {peak:.0f} "
        f"| {last - first:+.1f} | {wall / (60 * minutes):.2f} |"
    )
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, stream 5 minutes")
    parser.add_argument("--seconds", type=float, default=10.0, help="offline audio length")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 3)")
    parser.add_argument("--stream-minutes", type=float, default=None, help="default 60")
    parser.add_argument("--skip-offline", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="no long RSS run")
    parser.add_argument("--stream-seconds", type=float, default=12.0, help="audio per chunk size")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 3)
    minutes = args.stream_minutes or (5.0 if args.quick else 60.0)

    peer, ours, fast = build_models()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    if not args.skip_offline:
        print(
            f"\nOffline, {args.seconds:g} s at 24 kHz, {BANDWIDTH:g} kbps, median of {repeats}; "
            "ratio = peer time / our time (> 1: we are faster)\n"
        )
        print(
            "| op | batch | threads | encodec (s) | ours (s) | ours, wn folded (s) "
            "| ratio | ratio, wn folded | same codes | max audio diff |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        offline_rows(peer, ours, fast, args.seconds, repeats)

    print("\nStreaming, 1 thread, encode + decode per chunk (ours, weight norm folded)\n")
    print(
        "| codebooks | chunk (frames) | median compute (ms) | median / duration "
        "| p95 / duration | chunks timed |"
    )
    print("|---|---|---|---|---|---|")
    stream_rows(fast, (1, 6, 24, 75), seconds=args.stream_seconds, codebooks=(8, 32))

    if args.skip_memory:
        return
    print("\nResident memory while streaming (1 s chunks, 1 thread), MiB\n")
    print("| audio streamed | RSS at 10 s | RSS at end | peak | end - start | real-time factor |")
    print("|---|---|---|---|---|---|")
    memory_row(fast, minutes)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
