"""Corpus export on one and on two worker processes: files/s and audio-hours per wall-hour.

Run from the repository root: ``python bench/export_scaling.py [--minutes 6] [--rounds 2]``.
Prints a Markdown table (section "Corpus export on several workers" of BENCHMARKS.md).

Every row runs the real command, as a user would, each process with one torch thread
(``OMP_NUM_THREADS=1``), on the bundled default model (``speech-16k-6kbps``) and the bundled
speech (16 kHz FLAC) copied under distinct names until ``--minutes`` of audio:

- 1 worker: ``codec export-tokens CORPUS -o OUT --device cpu``;
- 2 workers: the same command twice at once, placed by torchrun's variables (``RANK=0/1``,
  ``WORLD_SIZE=2``), both writing into one folder; the wall time runs from the start of the
  first to the end of the last. ``codec merge-tokens`` afterwards is timed on its own (the
  reader also takes the parts unmerged).

The wall time includes each process's start (Python, torch, the model) and the audio loading;
the start alone is measured too (an export of one file). The CPU seconds (user + system) of
each process tell the work apart from what other processes on a shared machine leave free:
"CPU-bound speed-up" is the single worker's CPU time over the busiest worker's, the wall-clock
ratio to expect when every worker has a core of its own.
The rows run interleaved for ``--rounds`` rounds, order reversed every other round, and the
best wall time of each is kept, so load from other processes on a shared machine biases
neither row; the merged tokens are checked equal to the single worker's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codec.data.manifest import bundled_speech
from codec.lm.shards import TokenShards

ROOT = Path(__file__).resolve().parents[1]


def corpus(folder: Path, minutes: float) -> tuple[int, float]:
    """Bundled speech files copied into ``folder`` until ``minutes`` of audio: (files, seconds)."""
    records = bundled_speech()
    folder.mkdir(parents=True, exist_ok=True)
    count, total = 0, 0.0
    while total < minutes * 60:
        record = records[count % len(records)]
        shutil.copyfile(record.path, folder / f"{count:05d}-{record.path.name}")
        count, total = count + 1, total + record.duration
    return count, total


def command(*args: object, rank: int | None = None, world: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    if rank is not None:
        env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    cmd = [sys.executable, str(ROOT / "infer.py"), *map(str, args)]
    return subprocess.Popen(cmd, env=env)  # -q: only errors reach stderr


def wait(*procs: subprocess.Popen[bytes]) -> list[float]:
    """Wait for ``procs``; the CPU seconds (user + system) each used."""
    used = []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {proc.args}")
        used.append(usage.ru_utime + usage.ru_stime)
    return used


def run(workers: int, inputs: Path, out: Path, batch: int) -> tuple[float, list[float], float]:
    """Wall seconds of an export by ``workers`` processes, the CPU seconds of each, and the
    merge's wall seconds (0 for one worker)."""
    args = ["export-tokens", inputs, "-o", out, "--device", "cpu", "-b", batch, "-q"]
    start = time.perf_counter()
    procs = [command(*args, rank=r if workers > 1 else None, world=workers) for r in range(workers)]
    cpu = wait(*procs)
    wall = time.perf_counter() - start
    if workers == 1:
        return wall, cpu, 0.0
    start = time.perf_counter()
    wait(command("merge-tokens", out, "-o", out, "-q"))
    return wall, cpu, time.perf_counter() - start


def same_tokens(a: Path, b: Path) -> bool:
    one, two = TokenShards(a), TokenShards(b)
    return one.sources() == two.sources() and all(
        np.array_equal(one.codes(i), two.codes(i)) for i in range(len(one))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="corpus length")
    parser.add_argument("--batch", type=int, default=8, help="export-tokens --batch-size")
    parser.add_argument("--rounds", type=int, default=2, help="best of N interleaved rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files, seconds = corpus(root / "corpus", args.minutes)
        corpus(root / "one", 0.01)
        startup, startup_cpu, _ = run(1, root / "one", root / "out-one", args.batch)
        print(
            f"corpus: {files} files, {seconds / 60:.1f} min of 16 kHz speech; model speech-16k-6kbps"
        )
        best: dict[int, float] = {}
        cpu: dict[int, list[float]] = {}
        merge = float("inf")
        for round_ in range(args.rounds):
            for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
                out = root / f"out{workers}"
                shutil.rmtree(out, ignore_errors=True)
                wall, used, merged = run(workers, root / "corpus", out, args.batch)
                best[workers] = min(wall, best.get(workers, float("inf")))
                if sum(used) < sum(cpu.get(workers, [float("inf")])):
                    cpu[workers] = used
                merge = min(merge, merged) if workers > 1 else merge
                print(f"  round {round_ + 1}: {workers} worker(s): {wall:.1f} s", file=sys.stderr)
        equal = same_tokens(root / "out1", root / "out2")
    print(
        f"one process's start + model load + 1 file: {startup:.1f} s wall, {startup_cpu[0]:.1f} "
        f"CPU-s; merge-tokens: {merge:.1f} s;"
        f" 2-worker tokens equal to 1-worker tokens: {equal}\n"
    )
    print(
        "| run | wall (s) | files/s | audio-h per wall-h | vs 1 worker | CPU-s per process "
        "| CPU-bound speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for workers, wall in sorted(best.items()):
        name = "1 process x 1 thread" if workers == 1 else f"{workers} processes x 1 thread"
        print(
            f"| {name} | {wall:.1f} | {files / wall:.2f} | {seconds / wall:.0f} | "
            f"{best[1] / wall:.2f}x | {' + '.join(f'{c:.1f}' for c in cpu[workers])} | "
            f"{max(cpu[1]) / max(cpu[workers]):.2f}x |"
        )


if __name__ == "__main__":
    main()
