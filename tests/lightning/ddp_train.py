"""Launched by test_ddp.py: trains the debug experiment on 2 CPU processes (gloo) and dumps
each rank's final codec weights and quantizer buffers (and the loss balancer's EMA, when on) to
``<run_dir>/rank<r>.safetensors``. Usage: ``ddp_train.py RUN_DIR [HYDRA_OVERRIDE ...]``."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codec.lightning.run import run_training  # noqa: E402
from tests.lightning.conftest import compose_config  # noqa: E402


class DumpState(L.Callback):
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state = {k: v.detach().contiguous().cpu() for k, v in pl_module.codec.state_dict().items()}  # type: ignore[union-attr]
        if pl_module.balancer is not None:  # its norm EMA must agree across ranks too
            for key, value in pl_module.balancer.state_dict().items():  # type: ignore[union-attr]
                state[f"balancer.{key}"] = value.detach().contiguous().cpu()
        save_file(state, str(self.run_dir / f"rank{trainer.global_rank}.safetensors"))


if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    cfg = compose_config(
        "experiment=debug",
        f"run_dir={run_dir}",
        "logger=none",
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.max_steps=4",
        "trainer.val_every=2",
        "model.quantizer.dropout_rate=0.5",
        *sys.argv[2:],
    )
    run_training(cfg, [DumpState(run_dir)])
