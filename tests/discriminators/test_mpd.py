from __future__ import annotations

import torch

from codec.discriminators import MultiPeriodDiscriminator, hifigan_mpd
from tests.discriminators.conftest import Small, T


def test_logits_fold_by_period(small: Small) -> None:
    mpd = small["mpd"][0](torch.randn(2, 1, T))
    for logit, period in zip(mpd.logits, (2, 3, 5, 7, 11)):
        assert logit.shape[-1] == period


def test_odd_length_input(small: Small) -> None:
    out = small["mpd"][0](torch.randn(1, 1, 1001))
    assert len(out) == 5


def test_weight_norm_is_applied() -> None:
    disc = MultiPeriodDiscriminator(periods=(2,), filters=4, max_filters=8)
    names = [n for n, _ in disc.named_parameters()]
    assert any("parametrizations.weight.original0" in n for n in names)
    plain = MultiPeriodDiscriminator(periods=(2,), filters=4, max_filters=8, norm="none")
    assert not any("parametrizations" in n for n, _ in plain.named_parameters())


def test_hifigan_widths_are_published_ones() -> None:
    """HiFi-GAN's MPD: 32, 128, 512, 1024, 1024 channels (ours caps at 256 by default)."""
    mpd = hifigan_mpd()
    widths = [conv.out_channels for conv in mpd.discs[0].convs]
    assert widths == [32, 128, 512, 1024, 1024]
    assert [c.out_channels for c in MultiPeriodDiscriminator().discs[0].convs][-1] == 256
