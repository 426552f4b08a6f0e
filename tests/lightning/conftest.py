"""Helpers for training tests: compose the Hydra config in-process, like ``train.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from codec.lightning.run import register_schema

REPO = Path(__file__).resolve().parents[2]


def compose_config(*overrides: str) -> DictConfig:
    register_schema()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
