"""Fault cases: a truncated ``last.ckpt`` with ``resume=auto`` or ``resume=PATH``, and a training
killed (``kill -9``) while it saves a checkpoint, then resumed.

``resume=auto`` resumes from the newest readable checkpoint (``last.prev.ckpt`` is the one
before ``last.ckpt``) with one warning line naming both; with none readable, one error line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from codec.fileio import is_temp_name
from codec.lightning.checkpoints import PREVIOUS, checkpoint_problem, keep_previous
from codec.lightning.run import run_training
from tests.lightning.conftest import REPO, compose_config

# train.py with the checkpoint write slowed from step 4 on: the checkpoint is in its temp file
# (not yet renamed) when the test kills the process.
SLOW_TRAIN = """
import sys, time
from lightning.pytorch.plugins.io import TorchCheckpointIO

real_save = TorchCheckpointIO.save_checkpoint
def slow_save(self, checkpoint, path, storage_options=None):
    real_save(self, checkpoint, path, storage_options)
    if checkpoint["global_step"] >= 4:
        print("saving", flush=True)
        time.sleep(300)
TorchCheckpointIO.save_checkpoint = slow_save
sys.argv[0] = "train.py"
from codec.lightning.train import main
main()
"""


def overrides(run: Path, *extra: str) -> list[str]:
    return [
        "experiment=debug",
        f"run_dir={run}",
        "logger=none",
        "trainer.checkpoint_every=2",
        "trainer.val_every=2",
        *extra,
    ]


def step_of(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def saved(path: Path, value: Any) -> Path:
    torch.save(value, path)
    return path


def test_checkpoint_problem_names_truncated_and_garbage(tmp_path: Path) -> None:
    good = saved(tmp_path / "good.ckpt", {"w": torch.arange(1000.0)})
    assert checkpoint_problem(good) is None
    bad = saved(tmp_path / "bad.ckpt", {"w": torch.arange(1000.0)})
    truncate(bad)
    assert checkpoint_problem(bad) == "truncated or not a checkpoint"
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    assert checkpoint_problem(tmp_path / "junk.ckpt") == "truncated or not a checkpoint"


def test_saving_last_keeps_the_previous_one(tmp_path: Path) -> None:
    last = saved(tmp_path / "last.ckpt", {"step": 1})
    keep_previous(last)
    assert not last.exists() and torch.load(tmp_path / PREVIOUS)["step"] == 1
    saved(last, {"step": 2})
    truncate(last)
    keep_previous(last)  # a torn last.ckpt is not kept over the good previous one
    assert torch.load(tmp_path / PREVIOUS)["step"] == 1


def test_unreadable_last_ckpt_and_nothing_else_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    last = saved(run / "checkpoints" / "last.ckpt", {"w": torch.arange(1000.0)})
    truncate(last)
    size = last.stat().st_size
    with pytest.raises(SystemExit) as stop:
        run_training(compose_config(*overrides(run, "resume=auto")))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"error: {last}: unreadable checkpoint (truncated or not a checkpoint) and no other "
        f"readable checkpoint in {last.parent}; resume=none starts afresh"
    )
    assert last.stat().st_size == size  # left as it was, for the user to look at


def test_unreadable_resume_path_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.ckpt"
    bad.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(SystemExit) as stop:
        run_training(compose_config(*overrides(tmp_path / "run", f"resume={bad}")))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    expected = f"error: resume={bad}: unreadable checkpoint (truncated or not a checkpoint)"
    assert err.strip().splitlines()[-1] == expected


@pytest.mark.slow
def test_truncated_last_ckpt_resumes_from_the_previous_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run_training(compose_config(*overrides(run, "trainer.max_steps=4")))
    last, previous = run / "checkpoints" / "last.ckpt", run / "checkpoints" / PREVIOUS
    assert step_of(previous) == 4 and step_of(last) == 4  # saved at step 4, then at the end
    truncate(last)
    capsys.readouterr()
    run_training(compose_config(*overrides(run, "trainer.max_steps=6", "resume=auto")))
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {last}: unreadable checkpoint (truncated or not a checkpoint); resuming from "
        f"{previous}, the newest readable one"
    ]
    assert step_of(last) == 6 and step_of(previous) == 6


@pytest.mark.slow
def test_kill_9_while_saving_then_resume_auto(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_TRAIN, *overrides(run, "trainer.max_steps=6")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    assert "saving\n" in iter(proc.stdout.readline, ""), "never reached the step-4 save"
    proc.kill()
    proc.wait(timeout=60)
    folder = run / "checkpoints"
    left = [p for p in folder.iterdir() if is_temp_name(p.name)]
    assert len(left) == 1 and step_of(folder / "last.ckpt") == 2  # the step-4 save was torn
    run_training(compose_config(*overrides(run, "trainer.max_steps=6", "resume=auto")))
    assert not [p for p in folder.iterdir() if is_temp_name(p.name) or p.name.startswith(".")]
    assert step_of(folder / "last.ckpt") == 6
