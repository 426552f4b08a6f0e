"""Spectrogram discriminators: EnCodec's MS-STFT (complex) and the MRD (magnitude, multi-band)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from codec.discriminators.common import (
    ConvStackDiscriminator,
    DiscriminatorGroup,
    NormKind,
    normed,
)

__all__ = [
    "DAC_BANDS",
    "MultiResolutionDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "ResolutionDiscriminator",
    "STFTDiscriminator",
    "Spectrogram",
]

DAC_BANDS: tuple[tuple[float, float], ...] = (
    (0.0, 0.1),
    (0.1, 0.25),
    (0.25, 0.5),
    (0.5, 0.75),
    (0.75, 1.0),
)


class Spectrogram(nn.Module):
    """Centred STFT with a Hann window (frames zero padded): ``[B, 1, T]`` -> complex ``[B, F, N]``.

    The window is a non-persistent buffer: it follows ``.to()`` but is not in the state dict.
    """

    window: Tensor

    def __init__(self, n_fft: int, hop_length: int | None = None, normalized: bool = False) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length or n_fft // 4
        self.normalized = normalized
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stft(
            x.squeeze(1),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.window.numel(),
            window=self.window,
            center=True,
            pad_mode="constant",
            normalized=self.normalized,
            return_complex=True,
        )


class STFTDiscriminator(ConvStackDiscriminator):
    """One scale of EnCodec's MS-STFT discriminator on the complex spectrogram.

    Real and imaginary parts form 2 input channels of a 2D conv stack over ``[time, freq]``,
    with dilation growing along time and stride 2 along frequency.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        kernel_size: tuple[int, int] = (3, 9),
        dilations: Sequence[int] = (1, 2, 4),
        norm: NormKind = "weight_norm",
        normalized: bool = True,
    ) -> None:
        kt, kf = kernel_size
        convs = [normed(nn.Conv2d(2, filters, kernel_size, 1, (kt // 2, kf // 2)), norm)]
        in_ch = filters
        for i, d in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            conv = nn.Conv2d(in_ch, out_ch, kernel_size, (1, 2), (d * (kt // 2), kf // 2), (d, 1))
            convs.append(normed(conv, norm))
            in_ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        convs.append(normed(nn.Conv2d(in_ch, out_ch, (kt, kt), 1, (kt // 2, kt // 2)), norm))
        post = normed(nn.Conv2d(out_ch, 1, (kt, kt), 1, (kt // 2, kt // 2)), norm)
        super().__init__(convs, post, slope=0.2)
        self.stft = Spectrogram(n_fft, hop_length, normalized)

    def prepare(self, x: Tensor) -> Tensor:
        """``[B, 1, T]`` -> real and imaginary parts ``[B, 2, N, F]`` (logits ``[B, 1, N, F']``)."""
        spec = self.stft(x)
        return torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)


class MultiScaleSTFTDiscriminator(DiscriminatorGroup):
    """EnCodec's MS-STFT discriminator: one :class:`STFTDiscriminator` per FFT size."""

    def __init__(
        self, n_ffts: Sequence[int] = (1024, 2048, 512, 256, 128), filters: int = 32, **kwargs: Any
    ) -> None:
        discs = [STFTDiscriminator(n_fft=n, filters=filters, **kwargs) for n in n_ffts]
        super().__init__(discs, [f"n{n}" for n in n_ffts])


class ResolutionDiscriminator(nn.Module):
    """One resolution of the MRD: 2D convs over the STFT magnitude ``[time, freq]``.

    With ``bands`` (fractions of the frequency axis, e.g. :data:`DAC_BANDS`) each band gets
    its own conv stack and the stacks' outputs are joined along frequency (DAC's multi-band
    variant); ``bands=None`` uses one full-band stack (UnivNet).
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        filters: int = 32,
        bands: Sequence[tuple[float, float]] | None = None,
        norm: NormKind = "weight_norm",
    ) -> None:
        super().__init__()
        self.stft = Spectrogram(n_fft, hop_length)
        n_bins = n_fft // 2 + 1
        fracs = list(bands) if bands else [(0.0, 1.0)]
        self.edges = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in fracs]
        self.stacks = nn.ModuleList(self._stack(filters, norm) for _ in self.edges)
        self.n_layers = 5
        self.post = normed(nn.Conv2d(filters, 1, (3, 3), 1, (1, 1)), norm)

    @staticmethod
    def _stack(filters: int, norm: NormKind) -> nn.ModuleList:
        def conv(cin: int, k: tuple[int, int], s: tuple[int, int]) -> nn.Module:
            return normed(nn.Conv2d(cin, filters, k, s, (k[0] // 2, k[1] // 2)), norm)

        layers = [conv(1, (3, 9), (1, 1))] + [conv(filters, (3, 9), (1, 2)) for _ in range(3)]
        return nn.ModuleList([*layers, conv(filters, (3, 3), (1, 1))])

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits ``[B, 1, N, F']`` and feature maps (bands joined)."""
        mag = self.stft(x).abs()
        mag = mag.transpose(1, 2).unsqueeze(1)  # [B, 1, N, F]
        outs = [mag[..., lo:hi] for lo, hi in self.edges]
        feats: list[Tensor] = []
        stacks = [cast(nn.ModuleList, stack) for stack in self.stacks]
        for i in range(self.n_layers):
            outs = [F.leaky_relu(stack[i](z), 0.1) for stack, z in zip(stacks, outs)]
            feats.append(torch.cat(outs, dim=-1))
        return self.post(feats[-1]), feats


class MultiResolutionDiscriminator(DiscriminatorGroup):
    """Multi-resolution STFT magnitude discriminator (UnivNet; multi-band as in DAC)."""

    def __init__(
        self,
        n_ffts: Sequence[int] = (2048, 1024, 512),
        filters: int = 32,
        bands: Sequence[tuple[float, float]] | None = DAC_BANDS,
        **kwargs: Any,
    ) -> None:
        discs = [
            ResolutionDiscriminator(n_fft=n, filters=filters, bands=bands, **kwargs) for n in n_ffts
        ]
        super().__init__(discs, [f"n{n}" for n in n_ffts])
