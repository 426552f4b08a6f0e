"""A codec as an evaluated system: tokens, bitrate, stability."""

from __future__ import annotations

import pytest
import torch

from codec.eval.systems import CodecSystem, codec_systems
from tests.conftest import make_codec

from .conftest import SR


def test_codec_system_tokens_bitrate_and_stability(speech: torch.Tensor) -> None:
    model = make_codec()
    systems = codec_systems(model, [2, 4], stability_cycles=2)
    assert [s.name for s in systems] == ["tiny-test K=2", "tiny-test K=4"]
    out = systems[0].process(speech[:4000], SR)
    assert out.audio.shape == (4000,)
    assert out.codes is not None and out.codes.shape == (2, 500)  # hop 8
    assert out.payload_bytes == 2 * 500 * 5 // 8  # 5 bits per code of 32 (a byte before)
    assert out.payload_bytes * 8 / (4000 / SR) == model.bitrate(2)  # measured = nominal
    assert out.file_bytes is not None and out.file_bytes > out.payload_bytes
    assert out.stability is not None and set(out.stability) == {1, 2}
    assert all(0.0 <= v <= 1.0 for v in out.stability.values())
    assert systems[1].nominal_bitrate == model.bitrate(4)
    with pytest.raises(ValueError):
        CodecSystem(model, 3)  # not a multiple of groups=2
