"""HiFi-Codec's generator: HiFi-GAN V1 driven by the quantized latent instead of a mel."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

from codec.config import HiFiGANConfig
from codec.hifigan.blocks import LRELU_SLOPE, init_normal, resblock, wn_conv

__all__ = ["HiFiGANGenerator"]


class HiFiGANGenerator(nn.Module):
    """Latent ``[B, D, F]`` -> waveform ``[B, C, F * hop]`` in [-1, 1] (not streamable).

    conv_pre (k7) -> per stage: lrelu, transposed conv (width halves), the mean of the
    stage's residual blocks -> lrelu -> conv_post (k7) -> tanh.
    """

    def __init__(self, cfg: HiFiGANConfig) -> None:
        super().__init__()
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        # default init, as the reference leaves this first conv alone
        self.conv_pre = wn_conv(cfg.dimension, cfg.decoder_filters, 7, init=False)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = cfg.decoder_filters
        for stride, kernel in zip(cfg.ratios, cfg.kernel_sizes):
            up = nn.ConvTranspose1d(ch, ch // 2, kernel, stride, padding=(kernel - stride) // 2)
            init_normal(up)
            self.ups.append(parametrizations.weight_norm(up))
            ch //= 2
            for k in cfg.resblock_kernel_sizes:
                self.resblocks.append(resblock(cfg.resblock, ch, k, cfg.resblock_dilations))
        self.conv_post = wn_conv(ch, cfg.channels, 7)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_pre(x)
        n = self.num_kernels
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            y = self.resblocks[i * n](x)
            for j in range(1, n):
                y = y + self.resblocks[i * n + j](x)
            x = y / n
        return torch.tanh(self.conv_post(F.leaky_relu(x, LRELU_SLOPE)))
