"""Every shipped experiment (``codec/conf/experiment/*.yaml``, found by glob) trains in every precision
and resumes, on CPU, shrunk to seconds; the DDP ones also on 2 gloo processes.

One ``trainer.max_steps`` step is one generator step: ``CodecModule`` optimises manually and
steps the discriminator's raw optimizer, so ``global_step`` counts generator steps only. With
``optim.disc_start_step=0`` each step is one generator + one discriminator update, which the
AdamW step counts in the checkpoint confirm.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from codec.lightning.run import run_training
from tests.lightning.conftest import REPO, compose_config

pytestmark = pytest.mark.slow

EXPERIMENTS = sorted(p.stem for p in (REPO / "codec/conf/experiment").glob("*.yaml"))
PRECISIONS = ["32-true", "bf16-mixed"]

# Cases that fail for a known, open reason: (name, "single" | "ddp" | "*") -> reason. Strict,
# so a fixed case fails until its entry is removed.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

# Seconds per run: a tiny SEANet (hop 16; its Vocos decoder and spectral encoder: 1 block, n_fft
# 2 hops) or HiFi-GAN
# (hop 320, narrow), 2 x 2 codes of 32, 4-filter discriminators, 2 crops
# of 16 frames, the bundled speech (libritts_24k's manifest exists only after its recipe).
TINY = [
    "model.seanet.n_filters=2",
    "model.seanet.dimension=16",
    "model.seanet.ratios=[4,4]",
    "model.seanet.lstm_layers=1",
    "model.vocos.dim=16",
    "model.vocos.intermediate_dim=32",
    "model.vocos.num_blocks=1",
    "model.vocos.n_fft=32",
    "model.spectral.dim=16",
    "model.spectral.intermediate_dim=32",
    "model.spectral.num_blocks=1",
    "model.spectral.n_fft=32",
    "model.hifigan.dimension=16",
    "model.hifigan.encoder_filters=8",
    "model.hifigan.decoder_filters=64",
    "model.hifigan.resblock_kernel_sizes=[3]",
    "model.hifigan.resblock_dilations=[1]",
    "model.quantizer.codebook_size=32",
    "model.quantizer.num_levels=2",
    "model.quantizer.codebook.kmeans_iters=2",
    "discriminator.filters=4",
    "data.train=assets/speech/train",
    "data.val=assets/speech/val",
    "data.frames_per_crop=16",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.val_items=2",
    "data.val_max_seconds=1.0",
    "optim.disc_start_step=0",
    "optim.warmup_steps=2",
    "trainer.val_every=2",
    "trainer.checkpoint_every=2",
    "trainer.log_every=1",
    "trainer.max_minutes=0",
    "trainer.progress=false",
    "logger=none",
]


def cases(mode: str, names: list[str], precisions: list[str]) -> list[object]:
    """``pytest.param(name, precision)``, the known failures marked strict xfail."""
    out: list[object] = []
    for name in names:
        for precision in precisions:
            reason = KNOWN_FAILURES.get((name, "*")) or KNOWN_FAILURES.get((name, mode))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(name, precision, marks=marks, id=f"{name}-{precision}"))
    return out


def trainer_of(name: str) -> str:
    """The experiment's ``trainer`` group, from its defaults list."""
    data = yaml.safe_load((REPO / "codec/conf/experiment" / f"{name}.yaml").read_text())
    for entry in data.get("defaults", []):
        if isinstance(entry, dict) and "override /trainer" in entry:
            return str(entry["override /trainer"])
    return "cpu"


class StartStep(L.Callback):
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.step = trainer.global_step


def adam_steps(ckpt: dict[str, object]) -> list[int]:
    """AdamW's own step count per optimizer (generator, discriminator); 0 for one never
    stepped (the placeholder optimizer of a run without discriminator)."""
    states = ckpt["optimizer_states"]
    assert isinstance(states, list)
    return [int(next(iter(s["state"].values()))["step"]) if s["state"] else 0 for s in states]


def expected_steps(ckpt: dict[str, object], steps: int) -> list[int]:
    """Generator and discriminator updates after ``steps`` (none without a discriminator)."""
    weights = ckpt["state_dict"]
    assert isinstance(weights, dict)
    has_disc = any(name.startswith("disc.") for name in weights)
    return [steps, steps if has_disc else 0]


def load_last(run_dir: Path) -> dict[str, object]:
    path = run_dir / "checkpoints" / "last.ckpt"
    ckpt: dict[str, object] = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt


def train(name: str, run_dir: Path, *overrides: str) -> StartStep:
    cfg = compose_config(
        f"experiment={name}",
        f"run_dir={run_dir}",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.strategy=auto",
        *TINY,
        *overrides,
    )
    start = StartStep()
    run_training(cfg, [start])
    return start


@pytest.mark.parametrize(("name", "precision"), cases("single", EXPERIMENTS, PRECISIONS))
def test_experiment_trains_and_resumes(name: str, precision: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(name, run_dir, f"trainer.precision={precision}", "trainer.max_steps=2")
    first = load_last(run_dir)
    assert first["global_step"] == 2
    assert adam_steps(first) == expected_steps(first, 2), "generator + discriminator updates"
    resumed = train(name, run_dir, f"trainer.precision={precision}", "trainer.max_steps=4")
    assert resumed.step == 2
    final = load_last(run_dir)
    assert final["global_step"] == 4 and adam_steps(final) == expected_steps(final, 4)
    assert (run_dir / "export" / "model.safetensors").exists()


# Every shipped quantizer group (codec/conf/quantizer/*.yaml, by glob) on the default experiment,
# shrunk like the experiments; FSQ's grid must multiply to TINY's codebook_size (32).
QUANTIZERS = sorted(p.stem for p in (REPO / "codec/conf/quantizer").glob("*.yaml"))
QUANTIZER_TINY = {"fsq": ["model.quantizer.fsq_levels=[4,8]"]}


@pytest.mark.parametrize("quantizer", QUANTIZERS)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_quantizer_trains_and_resumes(quantizer: str, precision: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    extra = [f"quantizer={quantizer}", f"trainer.precision={precision}"]
    extra += QUANTIZER_TINY.get(quantizer, [])
    train("quickstart", run_dir, *extra, "trainer.max_steps=2")
    resumed = train("quickstart", run_dir, *extra, "trainer.max_steps=3")
    assert resumed.step == 2
    final = load_last(run_dir)
    assert final["global_step"] == 3 and adam_steps(final) == expected_steps(final, 3)
    assert (run_dir / "export" / "model.safetensors").exists()


# DDP: the experiments whose trainer group is ddp or gpu. No experiment ships trainer=ddp;
# the GPU-sized ones are those anyone scales out, while the CPU-sized debug / quickstart stay
# single-process. Both precisions, each trained 2 steps then resumed to 4.
DDP_EXPERIMENTS = [n for n in EXPERIMENTS if trainer_of(n) in ("ddp", "gpu")]
DDP_TIMEOUT = 240.0  # a crashed rank leaves the other waiting in a collective


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ddp_rank(rank: int, port: int, overrides: list[str]) -> None:
    """One rank, as ``torchrun --nproc-per-node 2 train.py ...`` starts it: with LOCAL_RANK set
    Lightning joins the group instead of launching processes itself."""
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    os.environ.update(env, LOCAL_RANK=str(rank), NODE_RANK="0", OMP_NUM_THREADS="1")
    run_training(compose_config(*overrides))


@pytest.mark.ddp
@pytest.mark.parametrize(("name", "precision"), cases("ddp", DDP_EXPERIMENTS, PRECISIONS))
def test_experiment_trains_on_two_gloo_processes(name: str, precision: str, tmp_path: Path) -> None:
    """Ranks forked from this (already imported) process: a fresh interpreter per rank would
    cost more than the training itself on a 2-core machine."""
    run_dir = tmp_path / "run"
    overrides = [
        f"experiment={name}",
        f"run_dir={run_dir}",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.strategy=ddp",
        f"trainer.precision={precision}",
        *TINY,
    ]
    for steps in (2, 4):  # then resumed from the checkpoint the first launch wrote
        launch_ranks([*overrides, f"trainer.max_steps={steps}"])
        ckpt = load_last(run_dir)
        assert ckpt["global_step"] == steps and adam_steps(ckpt) == expected_steps(ckpt, steps)


def launch_ranks(overrides: list[str]) -> None:
    """Run 2 forked ranks to completion; both must exit 0 within :data:`DDP_TIMEOUT`."""
    ctx = multiprocessing.get_context("fork")
    port = free_port()
    ranks = [ctx.Process(target=ddp_rank, args=(r, port, overrides)) for r in range(2)]
    for proc in ranks:
        proc.start()
    deadline = time.monotonic() + DDP_TIMEOUT
    for proc in ranks:
        proc.join(max(deadline - time.monotonic(), 0.0))
    hung = [proc for proc in ranks if proc.is_alive()]
    for proc in hung:
        proc.kill()
        proc.join()
    assert not hung, f"{len(hung)} rank(s) still running after {DDP_TIMEOUT:.0f} s"
    assert [proc.exitcode for proc in ranks] == [0, 0]
