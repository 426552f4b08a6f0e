"""Training callbacks: audio and spectrograms reach W&B through its own media API (and the
hyper-parameters reach W&B too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lightning.conftest import REPO

pytest.importorskip("wandb")


@pytest.mark.slow
def test_wandb_offline_run_holds_the_audio_and_spectrograms(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HYDRA_FULL_ERROR": "0",
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        **{f"WANDB_{k}_DIR": str(tmp_path / k.lower()) for k in ("CACHE", "CONFIG", "DATA")},
        "WANDB_DIR": str(tmp_path / "wandb_dir"),
    }
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=debug", "logger=wandb", f"run_dir={run_dir}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    media = offline / "files" / "media"
    audio = sorted(p.name for p in (media / "audio").rglob("*.wav"))
    images = sorted(p.name for p in (media / "images").rglob("*.png"))
    # debug: 6 steps, audio every 3 -> steps 3 and 6, one item, reference + decoded
    assert len(audio) == 4 and len(images) == 4, (audio, images)
    assert sum(n.startswith("decoded") for n in audio) == 2, audio
    # the hyper-parameters went to W&B too (its offline log is binary; the key is plain text)
    (log,) = offline.glob("run-*.wandb")
    assert b"optim.lr_g" in log.read_bytes()
