"""Hop-aligned crops measured in codec frames.

A crop of ``frames_per_crop`` frames spans ``frames_per_crop * hop_length`` samples and starts
on a multiple of ``hop_length``, so a 12.5 Hz and a 75 Hz model see the same number of tokens
per training example (a low-frame-rate model trained on short fixed-length crops sees too few
tokens and fails), and every crop boundary falls on a frame boundary.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["Crop", "crop_samples", "frames_for_seconds", "pad_to_length", "random_aligned_crop"]


class Crop(NamedTuple):
    """A crop: ``wav`` ``[C, crop_samples]`` (zero-padded), ``length`` real samples, ``start``."""

    wav: Tensor
    length: int
    start: int


def crop_samples(hop_length: int, frames_per_crop: int) -> int:
    """Samples in a crop of ``frames_per_crop`` frames: ``frames_per_crop * hop_length``."""
    if hop_length <= 0 or frames_per_crop <= 0:
        raise ValueError(
            f"hop_length and frames_per_crop must be > 0, got {hop_length}, {frames_per_crop}"
        )
    return hop_length * frames_per_crop


def frames_for_seconds(seconds: float, sample_rate: int, hop_length: int) -> int:
    """Whole frames that fit in ``seconds`` of audio (at least 1)."""
    return max(1, math.floor(seconds * sample_rate / hop_length))


def pad_to_length(wav: Tensor, length: int) -> Tensor:
    """Zero-pad (or cut) ``wav`` ``[..., T]`` on the right to ``[..., length]``."""
    current = wav.shape[-1]
    if current >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - current))


def random_aligned_crop(
    wav: Tensor, hop_length: int, frames_per_crop: int, rng: np.random.Generator
) -> Crop:
    """Random crop of ``wav`` ``[C, T]`` to ``[C, frames_per_crop * hop_length]``.

    The start is a multiple of ``hop_length`` drawn uniformly from all aligned positions that keep
    the crop inside the signal. A signal shorter than the crop starts at 0 and is zero-padded;
    ``length`` then says how many samples are real.
    """
    size = crop_samples(hop_length, frames_per_crop)
    total = wav.shape[-1]
    if total <= size:
        return Crop(pad_to_length(wav, size), total, 0)
    positions = (total - size) // hop_length + 1
    start = int(rng.integers(0, positions)) * hop_length
    return Crop(wav[..., start : start + size], size, start)
