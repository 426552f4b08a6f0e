"""Helpers for training tests: compose the Hydra config in-process, like ``train.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from codec.config import CodecConfig
from codec.lightning.config import TrainConfig, codec_config
from codec.lightning.run import register_schema

REPO = Path(__file__).resolve().parents[2]


def run_train_py(
    *args: str, python_flags: tuple[str, ...] = (), timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python [python_flags] train.py args`` from the repository root, as a user runs it
    (one thread, Hydra's short errors); output captured as text."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, *python_flags, "train.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def compose_config(*overrides: str) -> DictConfig:
    register_schema()
    with initialize_config_dir(config_dir=str(REPO / "codec" / "conf"), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


def tiny_codec_config(*overrides: str) -> CodecConfig:
    """The debug experiment's tiny model (``codec/conf/model/tiny.yaml``, GRVQ 2 x 2 x 32), with
    Hydra overrides such as ``model.quantizer.codebook.ema=false``."""
    typed: TrainConfig = OmegaConf.to_object(compose_config("experiment=debug", *overrides))  # type: ignore[assignment]
    return codec_config(typed)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
