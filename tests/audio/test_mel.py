"""The in-house Slaney mel filterbank: librosa's numbers without librosa in the install."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from codec.audio.mel import hz_to_mel, mel_filterbank, mel_to_hz

REPO = Path(__file__).resolve().parents[2]

CASES = [
    (16000, 512, 40, 0.0, None),
    (16000, 1024, 80, 0.0, None),
    (24000, 1024, 100, 0.0, None),
    (16000, 2048, 128, 20.0, 7600.0),
    (22050, 255, 64, 0.0, None),  # odd n_fft: the last bin sits below Nyquist
    (16000, 64, 80, 0.0, None),  # more filters than bins: some stay empty
    (8000, 32, 10, 300.0, 3000.0),
]


@pytest.mark.parametrize(("sr", "n_fft", "n_mels", "f_min", "f_max"), CASES)
def test_matches_librosa(
    sr: int, n_fft: int, n_mels: int, f_min: float, f_max: float | None
) -> None:
    librosa = pytest.importorskip("librosa", reason="librosa (dev extra) not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about the empty filters of one case
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)
    ours = mel_filterbank(sr, n_fft, n_mels, f_min, f_max)
    assert ours.dtype == torch.float32 and ours.shape == ref.shape
    assert_close(ours, torch.from_numpy(ref), rtol=1e-5, atol=1e-8)


def test_scale_and_shape_without_librosa() -> None:
    assert_close(
        hz_to_mel(torch.tensor([0.0, 500.0, 1000.0, 6400.0], dtype=torch.float64)),
        torch.tensor([0.0, 7.5, 15.0, 42.0], dtype=torch.float64),
    )
    hz = torch.linspace(0, 12000, 97, dtype=torch.float64)
    assert_close(mel_to_hz(hz_to_mel(hz)), hz)
    fb = mel_filterbank(16000, 512, 40)
    assert fb.shape == (40, 257) and (fb >= 0).all()
    peaks = fb.argmax(dim=1)
    assert (peaks.diff() >= 0).all()  # filters climb in frequency
    with pytest.raises(ValueError, match="f_min < f_max"):
        mel_filterbank(16000, 512, 40, f_min=9000.0)


def test_core_installs_and_runs_without_librosa() -> None:
    """librosa is a dev dependency only (tests/test_packaging.py checks pyproject): the mel
    loss must build and run with it unimportable."""
    code = (
        "import sys; sys.modules['librosa'] = None\n"
        "import torch\n"
        "from codec.losses import MelSpectrogram, multiscale_mel_loss\n"
        "x = torch.randn(1, 1, 4000)\n"
        "print(MelSpectrogram(16000, n_fft=512, n_mels=40)(x).shape)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "torch.Size([1, 40, 32])" in proc.stdout
