"""Learning curves: validation quality and codebook usage against CPU-minutes of training.

    python bench/learning_curve.py --variant quickstart --variant long         # train, evaluate
    python bench/learning_curve.py --variant "lr1e-4: experiment=quickstart optim.lr_g=1e-4"
    python bench/learning_curve.py --runs runs/learning_curve/quickstart       # evaluate only

Each variant is a list of Hydra overrides for ``train.py``, run as a subprocess (one after the
other) in ``OUT/NAME`` with ``trainer.snapshot_every`` set and ``--threads`` torch/OpenMP
threads. Every snapshot (an export folder with ``meta.json``: step, training wall and CPU
seconds) is then encoded/decoded on the validation files with ``codec.eval`` on 1 thread, after
all training is done, so evaluation never competes with a timed run. Outputs in ``OUT``:
``NAME/curve.csv`` + ``NAME/curve.json`` per run, ``learning_curve.png`` (STOI, PESQ-WB, mel
distance and the least-used codebook against CPU- and wall-minutes, Opus on the same files as
horizontal lines) and ``learning_curve.md`` (a table snippet for BENCHMARKS.md).

Opus is the only anchor at 6 kbps: libsndfile cannot encode Opus below 6 kbps (see
``codec/eval/baselines.py``), so there is no 3 kbps line.

Peer anchors (Vocos, DAC's generator/discriminator/loss classes) are not run: ``vocos`` 0.1.0
and ``descript-audio-codec`` 1.0.0 both install with pip here but neither imports with torch
2.13.0+cpu. Both import ``torchaudio`` at package import (vocos via ``vocos.feature_extractors``,
DAC via ``audiotools.core.util``); the newest ``torchaudio`` on the registry is 2.11.1 (there is
no 2.13), a CUDA build whose extension fails with ``OSError: Could not load this library:
.../torchaudio/lib/_torchaudio.so`` caused by ``libc10_cuda.so: cannot open shared object
file``. (DAC would also pin protobuf 3.19.6 and downgrade tensorboard.)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from learning_curve_report import write_outputs  # noqa: E402

#: Named variants: the 10-minute quickstart as shipped, its SEANet predecessor (the
#: baseline), and the longer CPU recipe (6 kbps, 4000 steps).
VARIANTS: dict[str, list[str]] = {
    "quickstart": ["experiment=quickstart"],
    "quickstart_seanet": ["experiment=quickstart_seanet"],
    "long": ["experiment=cpu_small"],
}
METRICS = ("stoi", "estoi", "pesq_wb", "mel_distance")


def parse_variant(spec: str) -> tuple[str, list[str]]:
    """``NAME`` (a preset of :data:`VARIANTS`) or ``NAME: override override ...``."""
    name, sep, rest = spec.partition(":")
    name = name.strip()
    if not sep:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; presets: {', '.join(VARIANTS)}")
        return name, list(VARIANTS[name])
    if not name or "/" in name:
        raise SystemExit(f"variant name must be a plain word, got {name!r}")
    return name, shlex.split(rest)


def train_command(overrides: list[str], run_dir: Path, every: int, threads: int) -> list[str]:
    """``train.py`` with the variant's overrides, its run folder, snapshots and threads."""
    return [
        sys.executable,
        str(REPO / "train.py"),
        *overrides,
        f"run_dir={run_dir}",
        f"trainer.snapshot_every={every}",
        f"trainer.num_threads={threads}",
        "trainer.progress=false",
    ]


def train(name: str, overrides: list[str], out: Path, every: int, threads: int) -> Path:
    """Run one variant to completion (``resume=auto``: a rerun continues it); its console
    output goes to ``OUT/NAME/console.log`` (``train.log`` there is the run's own log)."""
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    command = train_command(overrides, run_dir, every, threads)
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    env |= {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    (run_dir / "command.txt").write_text(shlex.join(command) + "\n")
    print(f"[{name}] training: {shlex.join(command[1:])}", flush=True)
    start = time.perf_counter()
    with open(run_dir / "console.log", "a") as log:
        proc = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = (run_dir / "console.log").read_text()[-3000:]
        raise SystemExit(f"[{name}] train.py failed ({proc.returncode}):\n{tail}")
    print(f"[{name}] trained in {(time.perf_counter() - start) / 60:.1f} wall minutes", flush=True)
    return run_dir


def snapshots(run_dir: Path) -> list[Path]:
    """The complete snapshot folders of a run (``meta.json`` present), by step."""
    found = [p.parent for p in (run_dir / "snapshots").glob("step_*/meta.json")]
    if not found:
        raise SystemExit(f"no snapshots in {run_dir}/snapshots (train with trainer.snapshot_every)")
    return sorted(found, key=lambda p: p.name)


def usage_row(codebooks: list[dict[str, float]], train_metrics: dict[str, float]) -> dict[str, Any]:
    """Per-codebook usage and perplexity over the set, and the training batch's usage."""
    row: dict[str, Any] = {}
    for cb in codebooks:
        row[f"usage_k{cb['codebook']}"] = cb["usage"]
        row[f"perplexity_k{cb['codebook']}"] = cb["perplexity"]
    usage = [cb["usage"] for cb in codebooks]
    perplexity = [cb["perplexity"] for cb in codebooks]
    row |= {"usage_min": min(usage), "usage_mean": sum(usage) / len(usage)}
    row |= {"perplexity_min": min(perplexity)}
    batch = [v for k, v in train_metrics.items() if k.startswith("vq/usage/")]
    row["train_batch_usage_min"] = min(batch) if batch else None
    row["train_g_mel"] = train_metrics.get("g/mel")
    return row


def evaluate_snapshot(folder: Path, files: list[Path], variant: str) -> dict[str, Any]:
    """One curve point: the snapshot's timing and its scores on ``files`` (all codebooks)."""
    from codec.eval import codec_systems, evaluate
    from codec.model import Codec

    meta = json.loads((folder / "meta.json").read_text())
    model = Codec.from_pretrained(folder)
    system = codec_systems(model, family=variant, stability_cycles=0)[0]
    result = evaluate([system], files, metrics=METRICS).systems[0]
    row: dict[str, Any] = {
        "variant": variant,
        "step": meta["step"],
        "cpu_minutes": meta["cpu_seconds"] / 60,
        "wall_minutes": meta["wall_seconds"] / 60,
        "threads": meta["threads"],
        "resumes": meta["resumes"],
    }
    row |= {m: result.mean(m) for m in METRICS}
    row["kbps"] = (result.bitrate["nominal"] or 0) / 1000
    row["kbps_file"] = (result.bitrate["file"] or 0) / 1000
    row["skipped"] = len(result.skipped) + len(result.failures)
    row |= usage_row(result.codebooks or [], meta.get("train_metrics", {}))
    return row


def evaluate_run(run_dir: Path, files: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for folder in snapshots(run_dir):
        rows.append(evaluate_snapshot(folder, files, run_dir.name))
        r = rows[-1]
        scores = ", ".join(f"{m} {r[m]:.3f}" for m in METRICS if r[m] is not None)
        print(
            f"[{run_dir.name}] step {r['step']}: {r['cpu_minutes']:.2f} CPU min, {scores}, "
            f"least-used codebook {r['usage_min']:.1%}",
            flush=True,
        )
    return rows


def anchors(files: list[Path], sample_rate: int, bitrates: list[float]) -> list[dict[str, Any]]:
    """Opus at ``bitrates`` on the same files, scored at the codec's sample rate."""
    from codec.eval import OpusSystem, evaluate

    systems = [OpusSystem(b) for b in bitrates]
    report = evaluate(systems, files, sample_rate=sample_rate, metrics=METRICS)
    return [
        {"name": r.name, "kbps": (r.bitrate["nominal"] or 0) / 1000}
        | {m: r.mean(m) for m in METRICS}
        for r in report.systems
    ]


def model_sample_rate(run_dir: Path) -> int:
    from codec.pretrained import read_config

    return read_config(snapshots(run_dir)[0] / "config.json").sample_rate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--variant", action="append", help="NAME or 'NAME: overrides...'")
    what.add_argument("--runs", nargs="+", type=Path, help="only evaluate these run folders")
    parser.add_argument("-o", "--out", type=Path, default=REPO / "runs" / "learning_curve")
    parser.add_argument("--snapshot-every", type=int, default=100, help="generator steps")
    parser.add_argument("--threads", type=int, default=2, help="training threads")
    parser.add_argument("--eval-threads", type=int, default=1)
    parser.add_argument("--val", nargs="+", default=[str(REPO / "assets/speech/val")])
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--opus", type=float, nargs="*", default=[6000.0], help="bits/s")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.variant:
        variants = dict(parse_variant(spec) for spec in args.variant)
        runs = [
            train(n, o, args.out, args.snapshot_every, args.threads) for n, o in variants.items()
        ]
    else:
        variants, runs = {}, list(args.runs)
        names = [run.name for run in runs]
        if len(set(names)) != len(names):
            raise SystemExit(f"run folders need distinct names (they label the curves): {names}")
    import torch

    from codec.eval import collect_files

    torch.set_num_threads(args.eval_threads)
    files, errors = collect_files(args.val, args.max_files)
    if errors or not files:
        raise SystemExit(f"validation files: {errors or 'none found'}")
    curves = {run.name: evaluate_run(run, files) for run in runs}
    opus = anchors(files, model_sample_rate(runs[0]), args.opus) if args.opus else []
    setup = {
        "argv": sys.argv[1:] if argv is None else argv,
        "variants": variants,
        "files": [str(f) for f in files],
        "threads": args.threads,
        "eval_threads": args.eval_threads,
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    for path in write_outputs(args.out, runs, curves, opus, setup):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
