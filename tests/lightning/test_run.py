"""``train.py``'s entry (``codec.lightning.run``): fast ``--help`` / ``--cfg job`` (no
Lightning imported), one folder per multirun job, the config as hyper-parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from codec.lightning.run import flat_hparams
from tests.lightning.conftest import REPO, compose_config, run_train_py


def imported_modules(importtime_log: str) -> set[str]:
    """Module names from ``python -X importtime``'s report (``import time: a | b | name``)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@pytest.mark.slow
@pytest.mark.parametrize("args", [("--cfg", "job"), ("--help",)], ids=["cfg-job", "help"])
def test_help_and_cfg_job_answer_without_importing_lightning_or_torch(
    args: tuple[str, ...],
) -> None:
    proc = run_train_py(*args, "experiment=debug", python_flags=("-X", "importtime"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = imported_modules(proc.stderr)
    assert "codec.lightning.run" in modules  # the report was read
    # The schema names the networks' choices (codec/choices.py) without importing them.
    heavy = sorted(m for m in modules if m.split(".")[0] in ("lightning", "torch"))
    assert not heavy, heavy[:5]
    if args[0] == "--cfg":
        printed = yaml.safe_load(proc.stdout)
        assert printed["experiment"] == "debug" and printed["optim"]["lr_g"] > 0
    else:
        assert "trainer" in proc.stdout and "experiment" in proc.stdout


def test_hyper_parameters_are_the_flattened_resolved_config() -> None:
    flat = flat_hparams(compose_config("experiment=debug", "optim.lr_g=0.00123"))
    assert flat["optim.lr_g"] == 0.00123
    assert flat["run_dir"] == "runs/debug"  # resolved
    assert flat["model.seanet.ratios"] == [4, 4]
    assert not any(isinstance(v, dict) and v for v in flat.values())


@pytest.mark.slow
def test_multirun_trains_each_job_in_its_own_folder(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = run_train_py(
        "-m",
        "experiment=debug",
        "trainer.max_steps=2",
        "logger=none",
        "optim.lr_g=1e-3,2e-3",
        f"hydra.sweep.dir={sweep}",
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lrs = []
    for job in ("0", "1"):
        run = sweep / job
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert Path(config["run_dir"]) == run
        lrs.append(config["optim"]["lr_g"])
        ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        assert ckpt["global_step"] == 2  # trained, not resumed from the other job
        assert (run / "export" / "model.safetensors").exists()
    assert lrs == [1e-3, 2e-3]
    assert not (REPO / "runs" / "debug" / "multirun").exists()


@pytest.mark.slow
def test_multirun_refuses_a_shared_run_dir(tmp_path: Path) -> None:
    proc = run_train_py(
        "-m",
        "experiment=debug",
        f"run_dir={tmp_path / 'run'}",
        "optim.lr_g=1e-3,2e-3",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        timeout=900,
    )
    assert proc.returncode == 2
    assert "error: config key 'run_dir' cannot be set in a multirun" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
