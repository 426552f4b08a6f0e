from __future__ import annotations

import torch

from codec.discriminators import MultiScaleDiscriminator
from tests.discriminators.conftest import Small, T


def test_each_scale_pools_by_two(small: Small) -> None:
    msd = small["msd"][0](torch.randn(2, 1, T))
    lengths = [lg.shape[-1] for lg in msd.logits]
    assert lengths[0] > lengths[1] > lengths[2]


def test_first_norm_applies_to_first_scale() -> None:
    msd = MultiScaleDiscriminator(scales=2, filters=4, max_filters=8, first_norm="spectral_norm")
    assert any("original" in n and "discs.0" in n for n, _ in msd.named_parameters())
