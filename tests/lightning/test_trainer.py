"""The trainer a run builds (``codec.lightning.trainer``): ``trainer.extra`` and the allowed
``trainer.callbacks`` reach ``L.Trainer``, accumulation counts optimiser steps, Lightning's
refusals are one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor

from codec.lightning.run import run_training
from tests.lightning.conftest import compose_config


class Probe(L.Callback):
    """Counts training batches and keeps the trainer."""

    def __init__(self) -> None:
        self.batches = 0
        self.trainer: L.Trainer | None = None

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.batches += 1
        self.trainer = trainer


@pytest.mark.slow
def test_extra_arguments_callbacks_and_accumulation_reach_the_run(tmp_path: Path) -> None:
    cfg = compose_config(
        "experiment=debug",
        f"run_dir={tmp_path}",
        "trainer.max_steps=2",
        "trainer.val_every=1",
        "trainer.accumulate_grad_batches=3",
        "trainer.extra.limit_val_batches=1",
        "trainer.callbacks.LearningRateMonitor={}",
        "trainer.callbacks.EarlyStopping={monitor:val/mel_distance,patience:100}",
    )
    probe = Probe()
    run_training(cfg, callbacks=[probe])
    trainer = probe.trainer
    assert trainer is not None
    assert trainer.limit_val_batches == 1
    kinds = {type(c) for c in trainer.callbacks}  # type: ignore[attr-defined]
    assert {LearningRateMonitor, EarlyStopping} <= kinds
    assert trainer.global_step == 2 and probe.batches == 6  # 3 batches per optimiser step
    assert trainer.val_check_batch == 3  # val_every counts steps, not batches


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.extra.limit_train_batches=-1",
            "Lightning rejected trainer.extra ['limit_train_batches']: You have passed invalid",
        ),
        (
            "trainer.callbacks.EarlyStopping={patienc:3}",
            "config key 'trainer.callbacks.EarlyStopping': ",
        ),
        (
            "trainer.callbacks.LearningRateMonitor={}",  # with logger=none
            "Lightning: Cannot use `LearningRateMonitor` callback with `Trainer` that has no",
        ),
    ],
)
def test_lightning_refusal_is_one_line(
    override: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = compose_config("experiment=debug", f"run_dir={tmp_path / 'run'}", "logger=none", override)
    with pytest.raises(SystemExit) as exc:
        run_training(cfg)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and message in err, err
