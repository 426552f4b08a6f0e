"""The typed training config: every shipped experiment loads, bad values stop the run at load
time with one line naming the key and what it accepts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import get_args

import pytest
from lightning.fabric.plugins.precision.precision import _PRECISION_INPUT
from omegaconf import OmegaConf

from codec.lightning.config import PRECISIONS, TrainConfig, codec_config
from codec.lightning.run import run_training
from tests.lightning.conftest import REPO, compose_config

EXPERIMENTS = sorted(p.stem for p in (REPO / "codec" / "conf" / "experiment").glob("*.yaml"))
QUANTIZERS = sorted(p.stem for p in (REPO / "codec" / "conf" / "quantizer").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_shipped_experiment_builds_a_valid_typed_config(experiment: str) -> None:
    typed = OmegaConf.to_object(compose_config(f"experiment={experiment}"))
    assert isinstance(typed, TrainConfig)


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_every_shipped_quantizer_builds_a_valid_codec_config(quantizer: str) -> None:
    typed = OmegaConf.to_object(compose_config(f"quantizer={quantizer}"))
    assert isinstance(typed, TrainConfig)
    cfg = codec_config(typed)
    assert cfg.quantizer.kind == {"fsq": "fsq", "simvq": "simvq"}.get(quantizer, "vq")
    if quantizer in ("fsq", "simvq", "grvq"):  # the 2 kbps layouts at 16 kHz / 50 Hz
        bits = cfg.frame_rate * cfg.quantizer.num_codebooks * math.log2(cfg.quantizer.codebook_size)
        assert 1990 <= bits <= 2000


def test_every_precision_we_accept_is_one_lightning_accepts() -> None:
    lightning = {str(v) for literal in get_args(_PRECISION_INPUT) for v in get_args(literal)}
    assert set(PRECISIONS) <= lightning


# (override, key named in the message, an allowed value the message lists)
BAD = [
    ("loss.adversarial=ls", "loss.adversarial", "lsgan"),
    ("optim.decay=cosin", "optim.decay", "cosine"),
    ("discriminator.names=[mpd,stft]", "discriminator.names", "msstft"),
    ("discriminator.names=[mpd,mpd]", "discriminator.names", "repeats"),
    ("trainer.precision=bf16-mix", "trainer.precision", "bf16-mixed"),
    ("trainer.accelerator=gpus", "trainer.accelerator", "cuda"),
    ("trainer.strategy=dpp", "trainer.strategy", "ddp"),
    ("logger.kind=mlflow", "logger.kind", "tensorboard"),
    ("data.normalize=rms", "data.normalize", "loudness"),
    ("model.seanet.activation=relu", "seanet.activation", "snake"),
    ("freeze=[decoderr]", "freeze", "quantizer"),
    ("optim.lr_g=-1e-4", "optim.lr_g", "> 0"),
    ("optim.lr_d=-1e-4", "optim.lr_d", ">= 0"),
    ("optim.betas=[0.8,1.5]", "optim.betas", "[0, 1)"),
    ("optim.min_lr_ratio=2", "optim.min_lr_ratio", "[0, 1]"),
    ("data.batch_size=0", "data.batch_size", ">= 1"),
    ("data.frames_per_crop=0", "data.frames_per_crop", ">= 1"),
    ("data.speeds=[0.9,3.0]", "data.speeds", "[0.5, 2]"),
    ("data.gain_db=-3", "data.gain_db", ">= 0"),
    ("trainer.max_steps=0", "trainer.max_steps", ">= 1"),
    ("trainer.devices=0", "trainer.devices", "-1"),
    ("trainer.devices=[0,0]", "trainer.devices", "distinct"),
    ("trainer.devices=gpu0", "trainer.devices", "'0,1'"),
    ("trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches", ">= 1"),
    ("trainer.callbacks={ModelCheckpoint:{}}", "trainer.callbacks", "EarlyStopping"),
    ("trainer.extra={max_steps:3}", "trainer.extra.max_steps", "use trainer.max_steps"),
    ("trainer.extra={gradient_clip_val:1}", "trainer.extra.gradient_clip_val", "optim.grad_clip"),
    ("trainer.extra={no_such_arg:1}", "trainer.extra.no_such_arg", "not an L.Trainer argument"),
    ("trainer.snapshot_every=-1", "trainer.snapshot_every", ">= 0"),
    ("loss.mel=-1", "loss.mel", ">= 0"),
]


@pytest.mark.parametrize(("override", "key", "allowed"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_line_at_load_time(
    override: str, key: str, allowed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_config("experiment=debug", f"run_dir={run_dir}", "logger=none", override)
    with pytest.raises(SystemExit) as exc:
        run_training(cfg)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert f"'{key}'" in err and allowed in err, err
    # stopped before anything was written, built or trained
    assert not run_dir.exists()


def test_defaults_are_valid() -> None:
    TrainConfig()
    assert TrainConfig().trainer.accelerator == "auto"


@pytest.mark.parametrize(
    ("override", "value"),
    [
        ("trainer.devices=auto", "auto"),
        ("trainer.devices=[0,1]", [0, 1]),
        ("trainer.devices='0,1'", "0,1"),
        ("trainer.devices=-1", -1),
        ("trainer.precision=32", 32),
        ("trainer.precision=bf16-mixed", "bf16-mixed"),
    ],
)
def test_lightning_value_types_are_accepted(override: str, value: object) -> None:
    typed = OmegaConf.to_object(compose_config("experiment=debug", override))
    assert isinstance(typed, TrainConfig)
    key = override.split("=")[0].split(".")[1]
    assert getattr(typed.trainer, key) == value
