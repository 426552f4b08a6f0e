"""HiFi-GAN's multi-period discriminator (MPD): 2D convs on the waveform folded by a period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from codec.discriminators.common import (
    ConvStackDiscriminator,
    DiscriminatorGroup,
    NormKind,
    normed,
)

__all__ = ["MultiPeriodDiscriminator", "PeriodDiscriminator", "hifigan_mpd"]


class PeriodDiscriminator(ConvStackDiscriminator):
    """HiFi-GAN period discriminator: the waveform folded into ``[T / p, p]`` and 2D convs.

    Channels grow ``filters * 4**i`` capped at ``max_filters`` (HiFi-GAN: 32 and 1024; the
    default cap 256 keeps CPU training feasible). Logits are ``[B, 1, T', p]``.
    """

    def __init__(
        self,
        period: int,
        filters: int = 32,
        max_filters: int = 256,
        kernel_size: int = 5,
        stride: int = 3,
        norm: NormKind = "weight_norm",
    ) -> None:
        chans = [1] + [min(filters * 4**i, max_filters) for i in range(4)]
        pad = (kernel_size // 2, 0)
        convs = [
            normed(nn.Conv2d(chans[i], chans[i + 1], (kernel_size, 1), (stride, 1), pad), norm)
            for i in range(4)
        ]
        convs.append(normed(nn.Conv2d(chans[-1], chans[-1], (kernel_size, 1), 1, pad), norm))
        post = normed(nn.Conv2d(chans[-1], 1, (3, 1), 1, (1, 0)), norm)
        super().__init__(convs, post, slope=0.1)
        self.period = period

    def prepare(self, x: Tensor) -> Tensor:
        """``[B, 1, T]`` -> ``[B, 1, ceil(T / p), p]`` (the tail padded to a whole period)."""
        b, c, t = x.shape
        extra = (-t) % self.period
        if extra:
            x = F.pad(x, (0, extra), mode="reflect" if extra < t else "constant")
        return x.view(b, c, -1, self.period)


class MultiPeriodDiscriminator(DiscriminatorGroup):
    """HiFi-GAN's multi-period discriminator (MPD)."""

    def __init__(
        self, periods: Sequence[int] = (2, 3, 5, 7, 11), filters: int = 32, **kwargs: Any
    ) -> None:
        discs = [PeriodDiscriminator(p, filters=filters, **kwargs) for p in periods]
        super().__init__(discs, [f"p{p}" for p in periods])


def hifigan_mpd(filters: int = 32, **kwargs: Any) -> MultiPeriodDiscriminator:
    """The MPD at HiFi-GAN's published widths: ``filters * 4**i`` capped at ``32 * filters``
    (32, 128, 512, 1024, 1024 at ``filters=32``) instead of our default cap of 256."""
    kwargs.setdefault("max_filters", 32 * filters)
    return MultiPeriodDiscriminator(filters=filters, **kwargs)
