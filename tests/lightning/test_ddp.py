"""DDP: 2 CPU processes (gloo) train a few steps; weights and codebooks stay identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.lightning.conftest import REPO

pytestmark = [pytest.mark.ddp, pytest.mark.slow]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param((), id="weighted-sum"),
        # EnCodec's balancer takes its own gradients; they must still go through DDP's reducer
        pytest.param(("loss.balancer=true",), id="balancer"),
    ],
)
def test_two_ranks_keep_identical_weights_and_codebooks(
    tmp_path: Path, overrides: tuple[str, ...]
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests/lightning/ddp_train.py"), str(tmp_path), *overrides],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    codebooks = [k for k in rank0 if "quantizer" in k and "embedding" in k]
    assert codebooks
    assert any(k.startswith("balancer.") for k in rank0) == bool(overrides)
    initial = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert initial["global_step"] == 4
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"{key} differs across ranks"
