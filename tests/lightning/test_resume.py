"""Exact resume: N steps, stop (or SIGKILL), resume to 2N == 2N straight steps, bit for bit.

Epochs are kept short (``files`` training files, batch 2: files // 2 batches per epoch) so stops
fall mid-epoch in a later epoch, where a non-resumable sampler restarts or reshuffles the epoch.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from codec.lightning.callbacks import global_rng_state, set_global_rng_state
from codec.lightning.config import DataConfig
from codec.lightning.data import CodecDataModule, EpochRandomSampler, ResumableDataLoader
from codec.lightning.run import run_training
from tests.lightning.conftest import REPO, compose_config

pytestmark = pytest.mark.slow

TRAIN_FILES = sorted((REPO / "assets/speech/train").glob("*.flac"))


def file_list(tmp_path: Path, files: int) -> Path:
    listing = tmp_path / f"train{files}.txt"
    listing.write_text("\n".join(str(p) for p in TRAIN_FILES[:files]) + "\n")
    return listing


def overrides(tmp_path: Path, run: str, *extra: str, files: int = 5) -> list[str]:
    return [
        "experiment=debug",
        f"run_dir={tmp_path / run}",
        "logger=none",
        f"data.train={file_list(tmp_path, files)}",
        "optim.weight_ema=0.9",
        "trainer.val_every=2",
        *extra,
    ]


class StopAt(L.Callback):
    """Stops training after ``step`` generator steps (like ``max_minutes`` running out)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def train(
    tmp_path: Path, run: str, *extra: str, stop_at: int | None = None, files: int = 5
) -> dict[str, Any]:
    callbacks: list[L.Callback] = [StopAt(stop_at)] if stop_at is not None else []
    run_training(compose_config(*overrides(tmp_path, run, *extra, files=files)), callbacks)
    return load_last(tmp_path / run)


def load_last(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def assert_identical(a: Any, b: Any, where: str = "") -> int:
    """Recursive bit-exact comparison; returns the number of tensors compared."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), f"{where}: max |diff| {(a.double() - b.double()).abs().max()}"
        return 1
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        return sum(assert_identical(a[k], b[k], f"{where}/{k}") for k in a)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        return sum(assert_identical(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    assert a == b, f"{where}: {a!r} != {b!r}"
    return 0


def assert_same_training_state(resumed: dict[str, Any], straight: dict[str, Any]) -> None:
    assert resumed["global_step"] == straight["global_step"]
    tensors = sum(
        assert_identical(resumed[key], straight[key], key)
        for key in ("state_dict", "optimizer_states", "lr_schedulers")
    )
    keys = resumed["state_dict"].keys()
    assert any(k.startswith("weight_ema.") for k in keys), "weight EMA copy not checkpointed"
    assert any("quantizer" in k and "embedding" in k for k in keys), "codebooks not checkpointed"
    assert tensors > 100


@pytest.mark.parametrize("steps", [3, 2])  # 3: mid-epoch of epoch 1; 2: on the epoch boundary
def test_stop_and_resume_equals_straight_run(tmp_path: Path, steps: int) -> None:
    total = 2 * steps
    straight = train(tmp_path, "straight", f"trainer.max_steps={total}")
    first = train(tmp_path, "resumed", f"trainer.max_steps={total}", stop_at=steps)
    assert first["global_step"] == steps
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*dataloader is not resumable.*")
        resumed = train(tmp_path, "resumed", f"trainer.max_steps={total}")
    assert_same_training_state(resumed, straight)


@pytest.mark.parametrize("first", [3, 4])  # 4: the first leg ends on an epoch boundary
def test_extending_max_steps_with_constant_lr_equals_straight_run(
    tmp_path: Path, first: int
) -> None:
    """The usual "train longer" flow; the LR schedule must not depend on max_steps for this."""
    flat = ("optim.decay=none", "trainer.checkpoint_every=1000")
    straight = train(tmp_path, "straight", "trainer.max_steps=7", *flat)
    train(tmp_path, "resumed", f"trainer.max_steps={first}", *flat)
    resumed = train(tmp_path, "resumed", "trainer.max_steps=7", *flat)
    assert_same_training_state(resumed, straight)


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_then_auto_resume_equals_straight_run(tmp_path: Path, workers: int) -> None:
    """Killed after its checkpoint at step 6 (9 files: 4 batches per epoch, checkpoints every
    3 steps, so only step 12 of the first four is on an epoch boundary), then ``resume=auto``."""
    total, kill_after = 14, 5
    common = (f"data.num_workers={workers}", f"trainer.max_steps={total}")
    straight = train(tmp_path, "straight", *common, files=9)
    args = [*overrides(tmp_path, "killed", *common, files=9), "trainer.checkpoint_every=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if last.exists() and load_last(last.parents[1])["global_step"] >= kill_after:
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = load_last(last.parents[1])["global_step"]
    assert kill_after <= step < total and step % 4, f"killed at step {step}, not mid-epoch"
    resumed = train(tmp_path, "killed", *common, "resume=auto", files=9)
    assert_same_training_state(resumed, straight)


@pytest.mark.ddp
def test_ddp_stop_and_resume_equals_straight_run(tmp_path: Path) -> None:
    """2 CPU ranks (9 files: 2 batches per epoch on each rank), stopped mid-epoch 1."""

    def ddp(run: str, *extra: str) -> dict[str, Any]:
        listing = file_list(tmp_path, 9)
        args = [f"data.train={listing}", "optim.decay=none", "optim.weight_ema=0.9", *extra]
        proc = subprocess.run(
            [sys.executable, str(REPO / "tests/lightning/ddp_train.py"), str(tmp_path / run)]
            + args,
            cwd=REPO,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return load_last(tmp_path / run)

    straight = ddp("straight", "trainer.max_steps=6")
    assert ddp("resumed", "trainer.max_steps=3")["global_step"] == 3
    resumed = ddp("resumed", "trainer.max_steps=6")
    assert_same_training_state(resumed, straight)
    rank1 = [
        load_file(str(tmp_path / run / "rank1.safetensors")) for run in ("straight", "resumed")
    ]
    assert_identical(rank1[1], rank1[0], "rank1")


def test_global_rng_state_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    """Python, NumPy (its cached second Gaussian included) and torch draws continue exactly."""
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    np.random.standard_normal()  # leaves the pair's second value cached
    path = tmp_path / "rng.pt"
    torch.save({"rng": global_rng_state()}, path)
    expected = (random.random(), np.random.standard_normal(), torch.rand(1))
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    set_global_rng_state(torch.load(path, weights_only=True)["rng"])
    drawn = (random.random(), np.random.standard_normal(), torch.rand(1))
    assert drawn[:2] == expected[:2] and torch.equal(drawn[2], expected[2])


def tiny_data(workers: int, speeds: list[float] | None = None) -> CodecDataModule:
    cfg = DataConfig(
        train="assets/speech/val",
        frames_per_crop=4,
        batch_size=2,
        num_workers=workers,
        speeds=speeds or [],
    )
    data = CodecDataModule(cfg, sample_rate=16000, hop_length=16)
    data.setup("fit")
    return data


def batches(loader: DataLoader[Any], count: int) -> list[tuple[list[int], torch.Tensor]]:
    taken = []
    for batch in loader:
        taken.append((batch.indices.tolist(), batch.wav))
        if len(taken) == count:
            break
    return taken


def loader(data: CodecDataModule, position: Callable[[], int]) -> ResumableDataLoader:
    assert data.train_set is not None
    return ResumableDataLoader(
        data.train_set,
        position=position,
        batch_size=2,
        sampler=EpochRandomSampler(data.train_set, seed=0),
        collate_fn=data.collate,
        num_workers=data.cfg.num_workers,
        drop_last=True,
    )


@pytest.mark.parametrize(
    ("workers", "speeds"), [(0, None), (2, None), (2, [0.9, 1.0, 1.1])], ids=["0", "2", "2-speed"]
)
def test_loader_resumes_mid_epoch_from_its_state(workers: int, speeds: list[float] | None) -> None:
    """A fresh loader given a saved state yields what the first one would have next (order
    and random crops, speed perturbation included), and making its iterator draws nothing
    from the global RNG."""
    data = tiny_data(workers, speeds)
    done = 0
    first = loader(data, lambda: done)
    per_epoch = len(first)
    assert per_epoch >= 3
    epoch0 = batches(first, per_epoch)
    done = per_epoch + 1  # mid-epoch 1
    expected = batches(first, per_epoch)
    state = first.state_dict()
    other = loader(data, lambda: 0)
    other.load_state_dict(state)
    rng = torch.get_rng_state()
    got = batches(other, per_epoch)
    assert torch.equal(torch.get_rng_state(), rng)
    assert len(got) == per_epoch - 1
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(got, expected))
    assert [i for i, _ in epoch0] != [i for i, _ in got]
    again = batches(other, per_epoch)  # position 0 again: all of epoch 0
    assert [i for i, _ in again] == [i for i, _ in epoch0]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(again, epoch0))


def test_train_loader_is_resumable_for_lightning() -> None:
    loader = tiny_data(0).train_dataloader()
    assert callable(getattr(loader, "state_dict", None))
    assert callable(getattr(loader, "load_state_dict", None))
