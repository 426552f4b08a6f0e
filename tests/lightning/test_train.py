"""End-to-end training: debug experiment, export, config errors (exact resume: test_resume.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from codec.audio import load_audio
from codec.model import Codec
from tests.lightning.conftest import REPO, run_train_py

pytestmark = pytest.mark.slow


def test_debug_experiment_end_to_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = run_train_py("experiment=debug", f"run_dir={run_dir}", "optim.lr_g=0.00123")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "config.yaml").exists()
    # where the model is and what to run next
    assert f"Trained model: {run_dir / 'export'}" in proc.stdout
    assert f"codec roundtrip {REPO / 'assets/speech/val'}" in proc.stdout
    assert f"-o decoded.wav --model {run_dir / 'export'}" in proc.stdout
    assert f"codec eval --model {run_dir / 'export'} assets/speech/val" in proc.stdout
    # the resolved config is logged as hyper-parameters
    hparams = yaml.safe_load((run_dir / "tensorboard" / "hparams.yaml").read_text())
    assert hparams["optim.lr_g"] == 0.00123 and hparams["experiment"] == "debug"
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    # Lightning's adverts and warnings that ask the user nothing are gone (codec/lightning/quiet.py)
    output = proc.stdout + proc.stderr
    for noise in ("litlogger", "LeafSpec", "manual optimization", "`weights_only` was not set"):
        assert noise not in output, noise
    assert output.count("GPU available") == 1  # Lightning's lines once, not once per handler
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    codec = Codec.from_pretrained(run_dir / "export")
    assert (run_dir / "export_best" / "model.safetensors").exists()
    wav = load_audio(REPO / "assets/speech/val_seen/en_allison__vm-reenterpassword.flac", 16000).wav
    tokens = codec.encode(wav, 16000)
    assert tokens.num_codebooks == 4 and tokens.codebook_size == 32
    audio = codec.decode(tokens)
    assert audio.shape[-1] == wav.shape[-1]
    assert torch.isfinite(audio).all()


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
