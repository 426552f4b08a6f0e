"""Waveform augmentation for training crops: speed perturbation and random gain.

Speed perturbation resamples the whole utterance as Kaldi's does: a factor ``f`` plays the
audio ``f`` times faster, so tempo and pitch both scale by ``f`` (duration by ``1 / f``). With
few speakers (the bundled set has 6 training voices) it widens the range of voices heard.
Every random choice comes from the generator the caller passes (the crop dataset seeds it with
``(seed, epoch, index)``), so an item is the same however often or wherever it is drawn, and a
resumed run sees the same audio. A disabled augmentation draws nothing from the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
import torch
from torch import Tensor

__all__ = ["Augment"]


@dataclass(frozen=True)
class Augment:
    """``speeds``: factors drawn uniformly per item (empty: no speed perturbation; e.g.
    ``(0.9, 1.0, 1.1)``); ``gain_db``: gain drawn uniformly in ``[-gain_db, gain_db]`` dB
    (0: none), after which a peak above full scale is brought back to 1.0."""

    speeds: tuple[float, ...] = ()
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if any(not 0.5 <= s <= 2.0 for s in self.speeds):
            raise ValueError(f"speed factors must be in [0.5, 2], got {self.speeds}")
        if self.gain_db < 0:
            raise ValueError(f"gain_db must be >= 0, got {self.gain_db}")

    @property
    def enabled(self) -> bool:
        return bool(self.speeds) or self.gain_db > 0

    def __call__(self, wav: Tensor, sample_rate: int, rng: np.random.Generator) -> Tensor:
        """Augmented copy of ``wav`` ``[C, T]`` (``[C, ~T / speed]`` after speed perturbation)."""
        if self.speeds:
            wav = speed_perturb(wav, sample_rate, self.speeds[int(rng.integers(len(self.speeds)))])
        if self.gain_db > 0:
            gain = 10 ** (float(rng.uniform(-self.gain_db, self.gain_db)) / 20)
            wav = wav * gain
            peak = float(wav.abs().max())
            if peak > 1.0:  # a real recording cannot exceed full scale
                wav = wav / peak
        return wav


def speed_perturb(wav: Tensor, sample_rate: int, factor: float) -> Tensor:
    """``wav`` ``[C, T]`` played ``factor`` times faster: resampled from ``sample_rate * factor``
    to ``sample_rate`` with soxr, so ``[C, round(T / factor)]``; ``factor`` 1 returns it as is."""
    if factor == 1.0:
        return wav
    source = wav.detach().cpu().numpy().T  # soxr wants [T, C]
    out = soxr.resample(source, sample_rate * factor, sample_rate, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(out.T)).to(wav.dtype)
