from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.data import crop_samples, frames_for_seconds, pad_to_length, random_aligned_crop


@pytest.mark.parametrize(
    ("sample_rate", "frame_rate"), [(24_000, 75.0), (24_000, 12.5), (16_000, 50.0)]
)
def test_crop_holds_the_same_number_of_frames_at_any_frame_rate(
    sample_rate: int, frame_rate: float
) -> None:
    hop = int(sample_rate / frame_rate)
    frames = 20
    wav = torch.randn(1, sample_rate * 5)
    rng = np.random.default_rng(0)
    for _ in range(50):
        crop = random_aligned_crop(wav, hop, frames, rng)
        assert crop.wav.shape == (1, crop_samples(hop, frames)) == (1, frames * hop)
        assert crop.start % hop == 0
        assert crop.length == frames * hop
        assert torch.equal(crop.wav, wav[:, crop.start : crop.start + frames * hop])


def test_crop_starts_cover_all_aligned_positions() -> None:
    hop, frames = 10, 3
    wav = torch.arange(100.0)[None]
    rng = np.random.default_rng(1)
    starts = {random_aligned_crop(wav, hop, frames, rng).start for _ in range(400)}
    assert starts == set(range(0, 100 - 30 + 1, hop))


def test_short_signal_is_padded_with_length() -> None:
    wav = torch.ones(2, 25)
    crop = random_aligned_crop(wav, hop_length=10, frames_per_crop=4, rng=np.random.default_rng(0))
    assert crop.wav.shape == (2, 40) and crop.length == 25 and crop.start == 0
    assert crop.wav[:, 25:].abs().sum() == 0 and torch.equal(crop.wav[:, :25], wav)


def test_helpers() -> None:
    assert frames_for_seconds(1.0, 24_000, 1920) == 12
    assert frames_for_seconds(0.001, 24_000, 1920) == 1
    assert pad_to_length(torch.ones(1, 5), 8).shape == (1, 8)
    assert pad_to_length(torch.ones(1, 5), 3).shape == (1, 3)
    with pytest.raises(ValueError):
        crop_samples(0, 10)
