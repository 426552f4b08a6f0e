"""Synthetic speech-like signals for tests: no files, fully deterministic from a seed.

A harmonic source with a moving pitch, shaped by three moving formant resonances (vowel-like
spectral envelopes), an amplitude envelope of syllables and pauses, and a little breath noise.
It is not speech, but it has speech's structure (harmonics, formants, syllabic modulation), so
codecs, losses and metrics behave on it roughly as on speech.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from codec.audio import save_audio

__all__ = ["synthetic_speech", "write_synthetic_files"]

# Vowel formant targets (F1, F2, F3) in Hz, roughly /a/, /i/, /u/, /e/, /o/ of an adult voice.
_VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 110.0, 160.0])


def _syllables(
    num_samples: int, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample amplitude envelope ``[T]`` and formant tracks ``[3, T]``."""
    envelope = np.zeros(num_samples)
    targets = np.zeros((3, num_samples))
    pos = 0
    while pos < num_samples:
        size = int(rng.uniform(0.12, 0.32) * sample_rate)
        end = min(num_samples, pos + size)
        shape = np.sin(np.pi * (np.arange(end - pos) + 0.5) / (end - pos)) ** 0.6
        amplitude = 0.0 if pos and rng.random() < 0.15 else rng.uniform(0.4, 1.0)
        envelope[pos:end] = amplitude * shape
        vowel = _VOWELS[rng.integers(len(_VOWELS))] * rng.uniform(0.9, 1.15)
        targets[:, pos:end] = vowel[:, None]
        pos = end
    smooth = max(1, int(0.04 * sample_rate))
    kernel = np.ones(smooth) / smooth
    tracks = np.stack(
        [np.convolve(np.pad(t, (smooth, smooth), mode="edge"), kernel, "same") for t in targets]
    )
    return envelope, tracks[:, smooth:-smooth]


def _pitch(num_samples: int, sample_rate: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Pitch contour ``[T]`` in Hz: slow random sinusoids (+-3 semitones) and a slight declination."""
    t = np.arange(num_samples) / sample_rate
    semitones = np.zeros(num_samples)
    for _ in range(3):
        rate, phase, depth = rng.uniform(0.3, 3.0), rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5)
        semitones += depth * np.sin(2 * np.pi * rate * t + phase)
    semitones -= 1.5 * t / max(float(t[-1]), 1e-9)
    return f0 * 2 ** (semitones / 12)


def _harmonics(
    phase: np.ndarray, pitch: np.ndarray, formants: np.ndarray, sample_rate: int
) -> np.ndarray:
    """Sum of harmonics ``[T]`` with 1/k source roll-off, shaped by the formant resonances.

    Harmonic gains vary slowly, so they are computed on a 2 ms grid and interpolated.
    """
    num_samples = len(phase)
    step = max(1, sample_rate // 500)
    grid = np.arange(0, num_samples, step)
    nyquist = 0.5 * sample_rate
    count = int(0.9 * nyquist / pitch.min())
    freqs = np.arange(1, count + 1)[:, None] * pitch[None, grid]  # [K, Tc]
    offsets = (freqs[None] - formants[:, None, grid]) / (_BANDWIDTHS[:, None, None] / 2)
    gains = (1.0 / (1.0 + offsets**2)).sum(axis=0) + 0.01  # [K, Tc]
    gains *= np.clip((0.9 * nyquist - freqs) / (0.1 * nyquist), 0.0, 1.0)
    gains /= np.arange(1, count + 1)[:, None]
    gains = np.concatenate([gains, gains[:, -1:]], axis=1)
    pos = np.arange(num_samples) / step
    idx, frac = pos.astype(np.int64), pos % 1.0
    # sin((k + 1) x) = 2 cos(x) sin(k x) - sin((k - 1) x): no sin() per harmonic
    two_cos, previous, current = 2.0 * np.cos(phase), np.zeros(num_samples), np.sin(phase)
    out = np.zeros(num_samples)
    for k in range(count):
        out += (gains[k, idx] * (1.0 - frac) + gains[k, idx + 1] * frac) * current
        previous, current = current, two_cos * current - previous
    return out


def synthetic_speech(
    seconds: float,
    sample_rate: int = 16_000,
    seed: int = 0,
    f0: float | None = None,
    peak: float = 0.5,
) -> Tensor:
    """A speech-like waveform ``[1, T]`` (float32, ``T = round(seconds * sample_rate)``).

    ``f0`` is the mean pitch in Hz (random in 90-240 Hz if ``None``); ``peak`` the absolute peak.
    Same arguments, same signal.
    """
    rng = np.random.default_rng(seed)
    num_samples = max(1, int(round(seconds * sample_rate)))
    base = float(f0) if f0 is not None else float(rng.uniform(90, 240))
    pitch = _pitch(num_samples, sample_rate, base, rng)
    envelope, formants = _syllables(num_samples, sample_rate, rng)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    out = _harmonics(phase, pitch, formants, sample_rate)
    noise = rng.standard_normal(num_samples) * 0.02 * out.std()
    out = (out + noise) * envelope
    top = np.abs(out).max()
    if top > 0:
        out *= peak / top
    return torch.from_numpy(out.astype(np.float32))[None]


def write_synthetic_files(
    folder: str | os.PathLike[str],
    count: int,
    seconds: float | tuple[float, float] = 2.0,
    sample_rate: int = 16_000,
    seed: int = 0,
    suffix: str = ".wav",
) -> list[Path]:
    """Write ``count`` synthetic files ``synth_000.wav`` ... into ``folder`` (durations fixed or
    uniform in a ``(low, high)`` range); returns their paths."""
    rng = np.random.default_rng(seed)
    paths: list[Path] = []
    for i in range(count):
        length = rng.uniform(*seconds) if isinstance(seconds, tuple) else seconds
        wav = synthetic_speech(length, sample_rate, seed=seed * 100_003 + i)
        paths.append(
            save_audio(Path(folder) / f"synth_{i:03d}{suffix}", wav, sample_rate, force=True)
        )
    return paths
