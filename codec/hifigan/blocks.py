"""HiFi-GAN's residual blocks and the weight-normed convs both halves of the codec use."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

__all__ = ["LRELU_SLOPE", "ResBlock1", "ResBlock2", "init_normal", "resblock", "wn_conv"]

#: leaky ReLU slope between HiFi-GAN's layers
LRELU_SLOPE = 0.1


def init_normal(module: nn.Module, std: float = 0.01) -> None:
    """HiFi-GAN's initialisation: conv weights ~ N(0, std) (applied before weight norm)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
            nn.init.normal_(m.weight, 0.0, std)


def wn_conv(
    cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1, init: bool = True
) -> nn.Module:
    """Weight-normed Conv1d keeping length / stride (``(k - 1) * d / 2`` zeros per side when
    ``stride`` is 1, ``(k - stride) / 2`` otherwise); N(0, 0.01) weights when ``init``."""
    pad = (kernel - 1) * dilation // 2 if stride == 1 else (kernel - stride) // 2
    conv = nn.Conv1d(cin, cout, kernel, stride, padding=pad, dilation=dilation)
    if init:
        init_normal(conv)
    return parametrizations.weight_norm(conv)


class ResBlock1(nn.Module):
    """HiFi-GAN V1 block: per dilation, lrelu -> dilated conv -> lrelu -> conv, plus the input.

    ``[B, C, T]`` -> ``[B, C, T]``.
    """

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            wn_conv(channels, channels, kernel_size, dilation=d) for d in dilations
        )
        self.convs2 = nn.ModuleList(wn_conv(channels, channels, kernel_size) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            y = c1(F.leaky_relu(x, LRELU_SLOPE))
            x = x + c2(F.leaky_relu(y, LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN V3 block: per dilation, lrelu -> dilated conv, plus the input.

    ``[B, C, T]`` -> ``[B, C, T]``.
    """

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            wn_conv(channels, channels, kernel_size, dilation=d) for d in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


def resblock(kind: str, channels: int, kernel_size: int, dilations: Sequence[int]) -> nn.Module:
    """``kind`` "1" -> :class:`ResBlock1`, "2" -> :class:`ResBlock2`."""
    block = ResBlock1 if kind == "1" else ResBlock2
    return block(channels, kernel_size, dilations)
