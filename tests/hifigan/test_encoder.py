"""HiFi-Codec's encoder: shapes, hop, GroupNorm placement, published parameter count."""

from __future__ import annotations

import pytest
import torch

from codec.config import HiFiGANConfig
from codec.hifigan import HiFiGANEncoder, ResBlock1, ResBlock2
from tests.hifigan.conftest import SMALL
from tests.hifigan.counts import published_encoder_params


@pytest.mark.parametrize("frames", [1, 3, 7])
def test_latent_has_one_frame_per_hop(frames: int) -> None:
    enc = HiFiGANEncoder(SMALL)
    assert SMALL.hop_length == 320
    latent = enc(torch.randn(2, 1, frames * 320))
    assert latent.shape == (2, SMALL.dimension, frames)


def test_partial_frame_is_padded_to_a_whole_one() -> None:
    latent = HiFiGANEncoder(SMALL)(torch.randn(1, 1, 2 * 320 + 1))
    assert latent.shape[-1] == 3


def test_groupnorm_after_every_block_widths_double() -> None:
    enc = HiFiGANEncoder(SMALL)
    widths = [norm.num_channels for norm in enc.norms]
    assert widths == [16, 16, 32, 32, 64, 64, 128, 128]  # 2 blocks per stage
    assert [norm.num_groups for norm in enc.norms] == [w // 16 for w in widths]
    assert all(isinstance(block, ResBlock1) for block in enc.resblocks)


def test_resblock_kind_two() -> None:
    enc = HiFiGANEncoder(HiFiGANConfig(**{**SMALL.__dict__, "resblock": "2"}))
    assert all(isinstance(block, ResBlock2) for block in enc.resblocks)
    assert enc(torch.randn(1, 1, 640)).shape == (1, SMALL.dimension, 2)


def test_parameter_count_is_the_published_one() -> None:
    """AcademiCodec's 16 kHz encoder (config_16k_320d.json) implies this count exactly."""
    ours = sum(p.numel() for p in HiFiGANEncoder(HiFiGANConfig()).parameters())
    published = published_encoder_params()
    print(f"HiFi-Codec encoder: ours {ours:,} parameters, published layout {published:,}")
    assert ours == published
    assert 45e6 < ours < 50e6
