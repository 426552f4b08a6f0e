"""Shared fixtures of the evaluation tests: real speech and a folder with good and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio import load_audio
from codec.data.manifest import BUNDLED_SPEECH_DIR

SR = 16000
SPEECH = BUNDLED_SPEECH_DIR / "val_seen" / "en_allison__vm-incorrect-mailbox.flac"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    """1.5 s of real speech at 16 kHz, [T]."""
    return load_audio(SPEECH, sample_rate=SR).wav[0, : int(1.5 * SR)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, speech: torch.Tensor) -> Path:
    """Two speech files, one silent file and one corrupt file."""
    folder = tmp_path_factory.mktemp("evaldata")
    sf.write(folder / "a.wav", speech.numpy(), SR)
    sf.write(folder / "b.flac", speech[:SR].numpy() * 0.5, SR)
    sf.write(folder / "silence.wav", np.zeros(SR, dtype=np.float32), SR)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return folder
