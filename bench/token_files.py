"""Token files, format version 3 (bit-packed) against version 2 (a uint16 per code): size,
measured bitrate and the time to write and read them, alone and next to the codec's own work.

Run from the repository root: ``python bench/token_files.py [--repeats 7] [--threads 1]``.
Prints the Markdown tables of section "## Token files" of BENCHMARKS.md.

1. Serialisation alone: ``Tokens.to_bytes`` and ``Tokens.from_bytes`` on one minute of codes
   (12 codebooks at 50 frames/s, random codes) for several codebook sizes: 1024 (the shipped
   model), 1000 and 625 (FSQ grids 8x5x5x5 and 5x5x5x5, not powers of two) and 65536.
2. End to end with the shipped model (``speech-16k-6kbps``, 12 x 1024 codes) on the bundled
   validation speech (``assets/speech/val``): encode + ``to_bytes``, ``from_bytes`` + decode,
   one file at a time, and the payload bitrate measured on the files.

Each time is the median of ``--repeats`` runs after one warm-up; the v2 and v3 runs alternate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import soundfile as sf
import torch
from timing import median_time  # bench/timing.py: the script's folder is on sys.path

from codec.bundled import DEFAULT_MODEL
from codec.data.manifest import bundled_speech
from codec.loading import load_model
from codec.tokens import Tokens, payload_bytes

SIZES = (1024, 1000, 625, 65536)


def minute_of_codes(size: int) -> Tokens:
    codes = torch.from_numpy(np.random.default_rng(0).integers(0, size, (1, 12, 3000)))
    return Tokens(
        codes=codes,
        lengths=torch.tensor([3000]),
        num_samples=torch.tensor([960000]),
        sample_rate=16000,
        frame_rate=50.0,
        codebook_size=size,
        groups=1,
        model_id="bench",
    )


def serialisation_table(repeats: int) -> None:
    print("| codebook size | version | payload bytes | kbps (nominal) | write (ms) | read (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        tokens = minute_of_codes(size)
        for version in (2, 3):
            data = tokens.to_bytes(version)
            write = median_time(lambda: tokens.to_bytes(version), repeats)  # noqa: B023
            read = median_time(lambda: Tokens.from_bytes(data), repeats)  # noqa: B023
            kbps = payload_bytes(data) * 8 / tokens.duration / 1000
            print(
                f"| {size} | {version} | {payload_bytes(data)} | {kbps:.3f} "
                f"({tokens.bitrate / 1000:.3f}) | {write * 1e3:.2f} | {read * 1e3:.2f} |"
            )


@torch.no_grad()
def end_to_end_table(repeats: int) -> None:
    model = load_model(DEFAULT_MODEL, "cpu")
    records = bundled_speech("val")
    waves = []
    for record in records:
        data, rate = sf.read(str(record.path), dtype="float32", always_2d=True)
        waves.append((torch.from_numpy(data).T, rate))
    seconds = sum(w.shape[-1] / r for w, r in waves)
    encoded = [model.encode(w, r) for w, r in waves]
    files = {v: [t.to_bytes(v) for t in encoded] for v in (2, 3)}
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):  # alternate the versions so that machine load biases neither
        for version in (2, 3):
            start = time.perf_counter()
            for w, r in waves:
                model.encode(w, r).to_bytes(version)
            middle = time.perf_counter()
            for data in files[version]:
                model.decode(Tokens.from_bytes(data))
            end = time.perf_counter()
            times.setdefault(("encode", version), []).append(middle - start)
            times.setdefault(("decode", version), []).append(end - middle)
    pack = {
        v: median_time(lambda: [t.to_bytes(v) for t in encoded], repeats)  # noqa: B023
        for v in (2, 3)
    }
    unpack = {
        v: median_time(lambda: [Tokens.from_bytes(d) for d in files[v]], repeats)  # noqa: B023
        for v in (2, 3)
    }
    print(
        f"\n{len(waves)} files, {seconds:.1f} s of speech, model {model.config.model_id} "
        f"({model.bitrate() / 1000:g} kbps nominal), torch threads {torch.get_num_threads()}\n"
    )
    print(
        "| version | payload kbps | file kbps | encode + write (s) | of which write (ms) "
        "| read + decode (s) | of which read (ms) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for v in (2, 3):
        payload = sum(payload_bytes(d) for d in files[v]) * 8 / seconds / 1000
        size = sum(len(d) for d in files[v]) * 8 / seconds / 1000
        enc = statistics.median(times[("encode", v)])
        dec = statistics.median(times[("decode", v)])
        print(
            f"| {v} | {payload:.3f} | {size:.3f} | {enc:.2f} | {pack[v] * 1e3:.2f} "
            f"| {dec:.2f} | {unpack[v] * 1e3:.2f} |"
        )
    same = all(
        torch.equal(Tokens.from_bytes(a).codes, Tokens.from_bytes(b).codes)
        for a, b in zip(files[2], files[3])
    )
    print(f"\ncodes equal after v2 and v3 round trips: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    serialisation_table(args.repeats)
    end_to_end_table(max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
