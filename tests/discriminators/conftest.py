"""Small instances (few filters) of each discriminator, shared by the discriminator tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.discriminators import (
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    MultiScaleSTFTDiscriminator,
)

T = 1024  # waveform length the tests feed
Small = dict[str, tuple[nn.Module, list[str]]]


@pytest.fixture(scope="session")
def small() -> Small:
    """Registry name -> (small discriminator, its expected sub-names)."""
    torch.manual_seed(0)
    return {
        "msstft": (
            MultiScaleSTFTDiscriminator(n_ffts=(512, 256, 128), filters=4),
            ["n512", "n256", "n128"],
        ),
        "mpd": (
            MultiPeriodDiscriminator(filters=4, max_filters=16),
            ["p2", "p3", "p5", "p7", "p11"],
        ),
        "msd": (MultiScaleDiscriminator(filters=4, max_filters=16), ["s0", "s1", "s2"]),
        "mrd": (MultiResolutionDiscriminator(n_ffts=(512, 256), filters=4), ["n512", "n256"]),
    }
