from __future__ import annotations

import torch

from codec.discriminators import MultiScaleDiscriminator, hifigan_msd
from tests.discriminators.conftest import Small, T


def test_each_scale_pools_by_two(small: Small) -> None:
    msd = small["msd"][0](torch.randn(2, 1, T))
    lengths = [lg.shape[-1] for lg in msd.logits]
    assert lengths[0] > lengths[1] > lengths[2]


def test_first_norm_applies_to_first_scale() -> None:
    msd = MultiScaleDiscriminator(scales=2, filters=4, max_filters=8, first_norm="spectral_norm")
    assert any("original" in n and "discs.0" in n for n, _ in msd.named_parameters())


def test_hifigan_widths_and_norms_are_published_ones() -> None:
    """HiFi-GAN's MSD: 128 .. 1024 channels, spectral norm on the first scale only."""
    msd = hifigan_msd()
    widths = [conv.out_channels for conv in msd.discs[0].convs]
    assert widths == [128, 128, 256, 512, 1024, 1024, 1024]
    assert [conv.groups for conv in msd.discs[0].convs] == [1, 4, 16, 16, 16, 16, 1]
    names = [n for n, _ in msd.named_parameters()]
    # spectral norm keeps one "original", weight norm two ("original0", "original1")
    assert "discs.0.convs.0.parametrizations.weight.original" in names
    assert "discs.1.convs.0.parametrizations.weight.original0" in names


def test_default_msd_is_unchanged() -> None:
    """The additive HiFi-GAN option leaves our default widths and state-dict names alone."""
    msd = MultiScaleDiscriminator()
    assert [conv.out_channels for conv in msd.discs[0].convs] == [32, 32, 64, 128, 256, 256, 256]
    assert "discs.0.convs.0.parametrizations.weight.original0" in msd.state_dict()
