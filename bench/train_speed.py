"""Training speed and learning curve.

    python bench/train_speed.py --experiment quickstart --steps 30      # steps/s, audio s/s
    python bench/train_speed.py --curve runs/quickstart                 # val curve vs wall time

Speed: runs the experiment for ``--steps`` generator steps (logger off, no checkpoints kept),
times every step after ``--warmup`` with a callback, and prints a Markdown row. Curve: reads the
TensorBoard events of a finished run and prints validation metrics against wall-clock minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class StepTimer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.times: list[float] = []
        self.samples: list[int] = []
        self._start = 0.0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:  # type: ignore[no-untyped-def]
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:  # type: ignore[no-untyped-def]
        if batch_idx >= self.warmup:
            self.times.append(time.perf_counter() - self._start)
            self.samples.append(int(batch.wav.shape[0] * batch.wav.shape[-1]))


def measure_speed(
    experiment: str, steps: int, warmup: int, threads: int, overrides: list[str]
) -> str:
    from codec.lightning.run import run_training
    from tests.lightning.conftest import compose_config

    torch.set_num_threads(threads)
    timer = StepTimer(warmup)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config(
            f"experiment={experiment}",
            f"run_dir={tmp}",
            "logger=none",
            f"trainer.max_steps={steps + warmup}",
            "trainer.val_every=100000",
            "trainer.checkpoint_every=100000",
            "trainer.progress=false",
            f"trainer.num_threads={threads}",
            *overrides,
        )
        module = run_training(cfg, [timer])
    step = statistics.median(timer.times)
    rate = module.codec.sample_rate
    audio = statistics.median(timer.samples) / rate
    disc = "on" if module.disc is not None and module.optim_cfg.disc_start_step <= warmup else "off"
    return (
        f"| {experiment} {' '.join(overrides)} | {threads} | {disc} | {step:.3f} | "
        f"{1 / step:.2f} | {audio / step:.2f} |"
    )


def learning_curve(run_dir: Path) -> str:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = [
        t
        for t in ("val/mel_distance", "val/si_sdr", "val/stft_distance")
        if t in acc.Tags()["scalars"]
    ]
    if not tags:
        raise SystemExit(f"no validation scalars in {run_dir}/tensorboard")
    start = min(e.wall_time for e in acc.Scalars("g/mel"))
    rows = ["| minutes | step | " + " | ".join(tags) + " |", "|---" * (len(tags) + 2) + "|"]
    series = {t: acc.Scalars(t) for t in tags}
    for i, event in enumerate(series[tags[0]]):
        values = " | ".join(f"{series[t][i].value:.3f}" for t in tags)
        rows.append(f"| {(event.wall_time - start) / 60:.1f} | {event.step} | {values} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiment", default="quickstart")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--curve", type=Path, help="print the validation curve of a run folder")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()
    if args.curve:
        print(learning_curve(args.curve))
        return
    print("| experiment | threads | discriminator | s/step | steps/s | audio s/s |")
    print("|---|---|---|---|---|---|")
    for threads in args.threads:
        print(
            measure_speed(args.experiment, args.steps, args.warmup, threads, args.overrides),
            flush=True,
        )


if __name__ == "__main__":
    main()
