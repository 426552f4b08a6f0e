from __future__ import annotations

import torch

from codec.discriminators.stft import Spectrogram
from tests.discriminators.conftest import Small, T


def test_mrd_frames_follow_hop(small: Small) -> None:
    mrd = small["mrd"][0](torch.randn(2, 1, T))
    frames = [lg.shape[2] for lg in mrd.logits]
    assert frames == [T // 128 + 1, T // 64 + 1]


def test_spectrogram_shape_and_no_window_in_state_dict() -> None:
    stft = Spectrogram(256)
    spec = stft(torch.randn(2, 1, T))
    assert spec.is_complex() and spec.shape == (2, 129, T // 64 + 1)
    assert "window" not in stft.state_dict()
