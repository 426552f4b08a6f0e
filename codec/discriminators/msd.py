"""MelGAN / HiFi-GAN multi-scale discriminator (MSD): grouped 1D convs on pooled waveforms."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from codec.discriminators.common import (
    ConvStackDiscriminator,
    DiscriminatorGroup,
    NormKind,
    normed,
)

__all__ = ["MultiScaleDiscriminator", "ScaleDiscriminator", "hifigan_msd"]

# Channel multipliers of the 7 convs, and (kernel, stride, groups) per conv, as HiFi-GAN's MSD
# (the middle layers' groups come from the ``groups`` argument).
MULTIPLIERS = (1, 1, 2, 4, 8, 8, 8)
MIDDLE_STRIDES = (2, 4, 4, 1)


class ScaleDiscriminator(ConvStackDiscriminator):
    """MelGAN / HiFi-GAN scale discriminator: strided, grouped 1D convs on the waveform.

    The input is first average-pooled (kernel 4, stride 2) ``n_pools`` times. Logits are
    ``[B, 1, T']``.
    """

    def __init__(
        self,
        filters: int = 32,
        max_filters: int = 512,
        groups: int = 16,
        n_pools: int = 0,
        norm: NormKind = "weight_norm",
    ) -> None:
        chans = [1] + [min(filters * m, max_filters) for m in MULTIPLIERS]
        specs = [(15, 1, 1), (41, 2, 4)] + [(41, s, groups) for s in MIDDLE_STRIDES] + [(5, 1, 1)]
        convs: list[nn.Module] = []
        for i, (k, s, g) in enumerate(specs):
            g = math.gcd(math.gcd(g, chans[i]), chans[i + 1])
            conv = nn.Conv1d(chans[i], chans[i + 1], k, s, padding=k // 2, groups=g)
            convs.append(normed(conv, norm))
        post = normed(nn.Conv1d(chans[-1], 1, 3, 1, padding=1), norm)
        super().__init__(convs, post, slope=0.1)
        self.n_pools = n_pools

    def prepare(self, x: Tensor) -> Tensor:
        """``[B, 1, T]`` -> the waveform average-pooled ``n_pools`` times."""
        for _ in range(self.n_pools):
            x = F.avg_pool1d(x, 4, 2, padding=2)
        return x


class MultiScaleDiscriminator(DiscriminatorGroup):
    """MelGAN's multi-scale discriminator (MSD): scale ``i`` sees the waveform pooled ``i`` times.

    ``first_norm`` lets the first (raw-waveform) scale use spectral norm as in HiFi-GAN.
    """

    def __init__(
        self,
        scales: int = 3,
        filters: int = 32,
        norm: NormKind = "weight_norm",
        first_norm: NormKind | None = None,
        **kwargs: Any,
    ) -> None:
        norms = [first_norm or norm] + [norm] * (scales - 1)
        discs = [
            ScaleDiscriminator(filters, n_pools=i, norm=norms[i], **kwargs) for i in range(scales)
        ]
        super().__init__(discs, [f"s{i}" for i in range(scales)])


def hifigan_msd(filters: int = 32, **kwargs: Any) -> MultiScaleDiscriminator:
    """The MSD at HiFi-GAN's published widths and norms: ``4 * filters`` up to ``32 * filters``
    channels (128 to 1024 at ``filters=32``, where ours starts at 32 and caps at 512), with
    spectral norm on the raw-waveform scale and weight norm on the pooled ones."""
    kwargs.setdefault("max_filters", 32 * filters)
    kwargs.setdefault("first_norm", "spectral_norm")
    return MultiScaleDiscriminator(filters=4 * filters, **kwargs)
