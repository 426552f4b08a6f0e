"""``examples/onnx_stream.py``, run as a user runs it: no torch imported, codes equal ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.audio import load_audio
from codec.model import Codec
from tests.onnx.conftest import ROOT

EXAMPLE = ROOT / "examples" / "onnx_stream.py"


def run_example(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", str(EXAMPLE), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's codec package
    )


def imported(stderr: str) -> set[str]:
    """Top-level modules listed by ``-X importtime``."""
    return {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


def test_example_streams_without_torch(tiny: Codec, tiny_onnx: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    wav = (torch.randn(1, 4001) * 0.3).clamp(-1, 1)
    sf.write(tmp_path / "in.wav", wav[0].numpy(), 16000, subtype="FLOAT")
    run = run_example(
        tiny_onnx, tmp_path / "in.wav", "-o", tmp_path / "out.wav", "--codes", tmp_path / "c.npy"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    modules = imported(run.stderr)
    assert "onnxruntime" in modules and "numpy" in modules
    assert "torch" not in modules
    assert "RTF" in run.stdout
    tokens = tiny.encode(load_audio(tmp_path / "in.wav", 16000)[0], 16000)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), tokens.codes.numpy())
    decoded, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 16000 and decoded.shape == (4001,)


def test_example_wrong_rate_is_one_line(tiny_onnx: Path, tmp_path: Path) -> None:
    sf.write(tmp_path / "in.wav", np.zeros(800, np.float32), 8000)
    run = run_example(tiny_onnx, tmp_path / "in.wav")
    last = run.stderr.strip().splitlines()[-1]  # after -X importtime's lines
    assert run.returncode == 1 and last.startswith("error: ") and "16000 Hz" in last
