"""Fixtures of the ONNX tests: exported folders (the bundled model, a tiny causal SEANet) and
the bundled validation speech."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codec.audio import load_audio
from codec.loading import load_model
from codec.model import Codec
from codec.onnx.export import export_onnx
from tests.conftest import make_codec

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
VAL = ROOT / "assets" / "speech" / "val"


@pytest.fixture(scope="session")
def bundled() -> Codec:
    return load_model("speech-16k-6kbps")


@pytest.fixture(scope="session")
def bundled_onnx(bundled: Codec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(bundled, tmp_path_factory.mktemp("onnx") / "bundled", int8=True).folder


@pytest.fixture(scope="session")
def tiny() -> Codec:
    """Causal SEANet (strided convs, LSTM, transposed convs), random weights."""
    return make_codec(seed=3)


@pytest.fixture(scope="session")
def tiny_onnx(tiny: Codec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tiny, tmp_path_factory.mktemp("onnx") / "tiny").folder


@pytest.fixture(scope="session")
def speech() -> list[torch.Tensor]:
    """The bundled validation utterances, [1, 1, T] at 16 kHz."""
    files = sorted(VAL.glob("*.flac"))
    assert len(files) >= 20
    return [load_audio(f, 16000)[0][None] for f in files]
