"""End-to-end training: debug experiment, export, resume after a kill, config errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from codec.audio import load_audio
from codec.lightning.run import run_training
from codec.model import Codec
from tests.lightning.conftest import REPO, compose_config

pytestmark = pytest.mark.slow


def run_train_py(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_debug_experiment_end_to_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = run_train_py("experiment=debug", f"run_dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "config.yaml").exists()
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    codec = Codec.from_pretrained(run_dir / "export")
    assert (run_dir / "export_best" / "model.safetensors").exists()
    wav = load_audio(REPO / "assets/speech/val/en_allison__vm-reenterpassword.flac", 16000).wav
    tokens = codec.encode(wav, 16000)
    assert tokens.num_codebooks == 4 and tokens.codebook_size == 32
    audio = codec.decode(tokens)
    assert audio.shape[-1] == wav.shape[-1]
    assert torch.isfinite(audio).all()


class Recorder(L.Callback):
    """Records the step and a state snapshot when training starts."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start_step = trainer.global_step
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        state = trainer.optimizers[0].state_dict()["state"]
        self.opt_state = {k: {n: t.clone() for n, t in v.items()} for k, v in state.items()}


def _train(run_dir: Path, *overrides: str, callbacks: list[L.Callback] | None = None) -> None:
    cfg = compose_config("experiment=debug", f"run_dir={run_dir}", "logger=none", *overrides)
    run_training(cfg, callbacks)


def test_resume_continues_with_identical_state(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _train(run_dir, "trainer.max_steps=4", "trainer.checkpoint_every=2")
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4
    recorder = Recorder()
    _train(run_dir, "trainer.max_steps=6", callbacks=[recorder])
    assert recorder.start_step == 4
    for key, value in ckpt["state_dict"].items():
        assert torch.equal(recorder.state[key], value), key
    codebook_keys = [k for k in ckpt["state_dict"] if "quantizer" in k and "embedding" in k]
    assert codebook_keys, "EMA codebook buffers must be in the checkpoint"
    saved_opt = ckpt["optimizer_states"][0]["state"]
    assert recorder.opt_state.keys() == saved_opt.keys() and saved_opt
    for index, state in recorder.opt_state.items():
        for name, tensor in state.items():
            assert torch.equal(tensor, saved_opt[index][name])
    final = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 6


def test_resume_after_kill(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = [
        sys.executable,
        "train.py",
        "experiment=debug",
        f"run_dir={run_dir}",
        "logger=none",
        "trainer.max_steps=1000",
        "trainer.checkpoint_every=2",
        "trainer.val_every=1000",
    ]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if last.exists() and torch.load(last, weights_only=True)["global_step"] >= 4:
                break
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint written in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = torch.load(last, weights_only=True)["global_step"]
    recorder = Recorder()
    _train(run_dir, f"trainer.max_steps={step + 1}", "trainer.val_every=1000", callbacks=[recorder])
    assert recorder.start_step == step


def test_config_typo_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_train_py("experiment=debug", f"run_dir={tmp_path}", "model.quantizer.codebok_size=3")
    assert proc.returncode != 0
    assert "codebok_size" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_train_py("experiment=debug", f"run_dir={tmp_path}", "model.seanet.activation=relu")
    assert proc.returncode != 0
    assert "seanet.activation" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_data_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_train_py("experiment=debug", f"run_dir={tmp_path}", "data.train=/nonexistent/x")
    assert proc.returncode != 0
    assert "data path not found: /nonexistent/x" in proc.stderr
    assert "Traceback" not in proc.stderr
