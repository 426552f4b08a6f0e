from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from codec.audio import load_audio
from codec.data import synthetic_speech, write_synthetic_files


def test_shape_determinism_and_level() -> None:
    a = synthetic_speech(1.5, 16_000, seed=3)
    assert a.shape == (1, 24_000) and a.dtype == torch.float32
    assert torch.equal(a, synthetic_speech(1.5, 16_000, seed=3))
    assert not torch.equal(a, synthetic_speech(1.5, 16_000, seed=4))
    assert a.abs().max().item() == np.float32(0.5)
    assert torch.isfinite(a).all()


def test_speech_like_structure() -> None:
    wav = synthetic_speech(3.0, 16_000, seed=0, f0=120.0)[0].numpy()
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    freqs = np.fft.rfftfreq(len(wav), 1 / 16_000)
    low = spectrum[(freqs > 80) & (freqs < 1000)].sum()
    high = spectrum[freqs > 4000].sum()
    assert low > 5 * high  # energy concentrated where voiced speech has it
    frames = wav[: len(wav) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1))
    assert (rms < 0.05 * rms.max()).mean() > 0.05  # syllable gaps / pauses exist
    assert (rms > 0.2 * rms.max()).mean() > 0.3


def test_write_files(tmp_path: Path) -> None:
    paths = write_synthetic_files(tmp_path, 3, seconds=(0.2, 0.4), sample_rate=8_000)
    assert [p.name for p in paths] == ["synth_000.wav", "synth_001.wav", "synth_002.wav"]
    for path in paths:
        audio = load_audio(path)
        assert audio.sample_rate == 8_000 and 0.2 <= audio.duration <= 0.4
