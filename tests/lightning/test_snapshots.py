"""Snapshots for learning curves: ``trainer.snapshot_every`` export folders with timing meta."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from codec.lightning.run import run_training
from codec.model import Codec
from tests.lightning.conftest import compose_config

pytestmark = pytest.mark.slow


def train(run_dir: Path, *extra: str) -> None:
    cfg = compose_config(
        "experiment=debug",
        f"run_dir={run_dir}",
        "logger=none",
        "trainer.snapshot_every=2",
        *extra,
    )
    run_training(cfg)


def meta(run_dir: Path, step: int) -> dict[str, float]:
    return json.loads((run_dir / "snapshots" / f"step_{step:06d}" / "meta.json").read_text())


def test_snapshots_every_n_steps_and_at_the_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, "trainer.max_steps=5")
    folders = sorted(p.name for p in (run_dir / "snapshots").iterdir())
    assert folders == ["step_000002", "step_000004", "step_000005"]  # no temp folders left
    metas = [meta(run_dir, s) for s in (2, 4, 5)]
    assert [m["step"] for m in metas] == [2, 4, 5]
    for key in ("wall_seconds", "cpu_seconds"):
        values = [m[key] for m in metas]
        assert 0 < values[0] < values[1] < values[2], (key, values)
    assert all(m["threads"] == torch.get_num_threads() and m["resumes"] == 0 for m in metas)
    # the training batch's codebook usage (one entry per level) rides along
    usage = [v for k, v in metas[-1]["train_metrics"].items() if k.startswith("vq/usage/")]
    assert len(usage) == 4 and all(0 < u <= 1 for u in usage)
    # each snapshot is a loadable export; the last one is the final model
    codec = Codec.from_pretrained(run_dir / "snapshots" / "step_000002")
    assert codec.num_codebooks == 4
    last = load_file(str(run_dir / "snapshots" / "step_000005" / "model.safetensors"))
    final = load_file(str(run_dir / "export" / "model.safetensors"))
    assert last.keys() == final.keys()
    assert all(torch.equal(last[k], final[k]) for k in final)
    first = load_file(str(run_dir / "snapshots" / "step_000002" / "model.safetensors"))
    assert any(not torch.equal(first[k], final[k]) for k in final)  # training moved on


def test_clock_carries_across_a_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, "trainer.max_steps=4")
    before = meta(run_dir, 4)
    train(run_dir, "trainer.max_steps=6")  # resume=auto from last.ckpt at step 4
    after = meta(run_dir, 6)
    assert after["resumes"] == 1 and before["resumes"] == 0
    assert after["wall_seconds"] > before["wall_seconds"]
    assert after["cpu_seconds"] > before["cpu_seconds"]
    assert sorted(p.name for p in (run_dir / "snapshots").iterdir()) == [
        "step_000002",
        "step_000004",
        "step_000006",
    ]


def test_off_by_default(tmp_path: Path) -> None:
    cfg = compose_config("experiment=debug", f"run_dir={tmp_path}", "logger=none")
    run_training(cfg)
    assert not (tmp_path / "snapshots").exists()
