"""Fixtures of the fault tests: two tiny saved models with the same config (so the same
``model_id``) but other weights, and a token file made by the first."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codec.model import Codec
from tests.cli.conftest import tone
from tests.conftest import tiny_config

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``a`` and ``b``: same config, other weights (seeds 0 and 1)."""
    root = tmp_path_factory.mktemp("twins")
    for name, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        Codec(tiny_config()).eval().save_pretrained(root / name)
    return {"a": root / "a", "b": root / "b"}


@pytest.fixture
def tok(tmp_path: Path, twins: dict[str, Path]) -> Path:
    """A token file of 2000 samples (250 frames of 8) encoded by model ``a``."""
    codec = Codec.from_pretrained(twins["a"])
    path = tmp_path / "a.tok"
    codec.encode(torch.from_numpy(tone(2000)[:, 0]), 16000).save(path)
    return path
