"""``freeze=[...]``: frozen codec parts do not move at all (no gradient, no optimiser state, no
EMA codebook updates or dead-code resets), also across a resume; the rest still trains."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import Tensor

from codec.lightning.module import CodecModule
from codec.lightning.run import run_training
from tests.lightning.conftest import compose_config

pytestmark = pytest.mark.slow

CODEBOOK_BUFFERS = ("embedding", "cluster_usage", "embedding_sum", "updates", "initialized")


class Watch(L.Callback):
    """Snapshots the codec at the start and records the frozen parts' mode at every batch."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.modes: list[bool] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = snapshot(pl_module)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int
    ) -> None:
        self.modes += [m.training for m in getattr(pl_module.codec, self.part).modules()]


def snapshot(module: L.LightningModule) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train(run_dir: Path, part: str, steps: int, *overrides: str) -> tuple[CodecModule, Watch]:
    watch = Watch(part)
    cfg = compose_config(
        "experiment=debug",
        f"run_dir={run_dir}",
        "logger=none",
        f"freeze=[{part}]",
        f"trainer.max_steps={steps}",
        "trainer.checkpoint_every=2",
        "trainer.val_every=2",
        *overrides,
    )
    return run_training(cfg, [watch]), watch


def check_frozen(module: CodecModule, part: str, start: dict[str, Tensor]) -> None:
    """Every tensor of ``part`` bit-identical to ``start``, none in the optimiser, no
    gradient; the other parts of the codec moved."""
    after = module.state_dict()
    prefix = f"codec.{part}."
    frozen = [k for k in start if k.startswith(prefix)]
    assert frozen
    for key in frozen:
        assert torch.equal(after[key], start[key]), f"{key} changed"
    others = [k for k in start if k.startswith("codec.") and not k.startswith(prefix)]
    assert any(not torch.equal(after[k], start[k]) for k in others), "nothing else trained"
    params = list(getattr(module.codec, part).parameters())
    opt_g = module.trainer.optimizers[0]
    in_opt = {id(p) for group in opt_g.param_groups for p in group["params"]}
    assert not any(id(p) in in_opt for p in params)
    assert not any(id(p) in {id(q) for q in opt_g.state} for p in params)
    assert all(p.grad is None for p in params)


def test_frozen_quantizer_codebooks_stay_bit_identical_across_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    module, first = train(run_dir, "quantizer", 2)
    assert first.modes and not any(first.modes)
    codebook_keys = [
        k
        for k in first.start
        if k.startswith("codec.quantizer.") and k.rsplit(".", 1)[-1] in CODEBOOK_BUFFERS
    ]
    assert {k.rsplit(".", 1)[-1] for k in codebook_keys} == set(CODEBOOK_BUFFERS)
    check_frozen(module, "quantizer", first.start)
    # resuming the run (last.ckpt at step 2) keeps the quantizer frozen
    module, second = train(run_dir, "quantizer", 4)
    assert module.trainer.global_step == 4
    assert second.modes and not any(second.modes)
    check_frozen(module, "quantizer", first.start)


def test_frozen_gradient_codebooks_get_no_gradient_or_optimiser_state(tmp_path: Path) -> None:
    module, watch = train(
        tmp_path / "run", "quantizer", 2, "model.quantizer.codebook.ema=false", "loss.codebook=1"
    )
    assert list(module.codec.quantizer.parameters()), "gradient codebooks are parameters"
    check_frozen(module, "quantizer", watch.start)


def test_frozen_encoder_does_not_move(tmp_path: Path) -> None:
    module, watch = train(tmp_path / "run", "encoder", 2)
    assert watch.modes and not any(watch.modes)
    check_frozen(module, "encoder", watch.start)
