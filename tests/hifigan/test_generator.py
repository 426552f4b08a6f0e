"""HiFi-Codec's generator: shapes, output range, published parameter count."""

from __future__ import annotations

import torch

from codec.config import HiFiGANConfig
from codec.hifigan import HiFiGANGenerator
from tests.hifigan.conftest import SMALL
from tests.hifigan.counts import published_generator_params


def test_each_frame_becomes_one_hop_of_audio_in_range() -> None:
    gen = HiFiGANGenerator(SMALL)
    audio = gen(torch.randn(2, SMALL.dimension, 5) * 10)
    assert audio.shape == (2, 1, 5 * 320)
    assert audio.abs().max() <= 1.0  # tanh output


def test_widths_halve_per_stage() -> None:
    gen = HiFiGANGenerator(SMALL)
    assert [up.out_channels for up in gen.ups] == [32, 16, 8, 4]
    assert len(gen.resblocks) == 4 * len(SMALL.resblock_kernel_sizes)


def test_parameter_count_is_the_published_one() -> None:
    """AcademiCodec's 16 kHz generator (HiFi-GAN V1 fed a 512-dim latent) has this count."""
    ours = sum(p.numel() for p in HiFiGANGenerator(HiFiGANConfig()).parameters())
    published = published_generator_params()
    print(f"HiFi-Codec generator: ours {ours:,} parameters, published layout {published:,}")
    assert ours == published
    assert 15e6 < ours < 16e6
