"""HiFi-Codec's encoder: HiFi-GAN's generator mirrored, with GroupNorm after each block."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from codec.config import HiFiGANConfig
from codec.hifigan.blocks import LRELU_SLOPE, init_normal, resblock, wn_conv

__all__ = ["HiFiGANEncoder"]


class HiFiGANEncoder(nn.Module):
    """Waveform ``[B, C, T]`` -> latent ``[B, D, ceil(T / hop)]`` (not streamable).

    conv_pre (k7) -> per stage: lrelu, strided conv (width doubles), the mean of the
    stage's residual blocks, where the running sum is group-normalised after each block
    (AcademiCodec's placement) -> lrelu (slope 0.01) -> conv_post (k3, no weight norm).
    The tail is zero-padded to a whole frame.
    """

    def __init__(self, cfg: HiFiGANConfig) -> None:
        super().__init__()
        self.hop_length = cfg.hop_length
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        # default init, as the reference leaves this first conv alone
        self.conv_pre = wn_conv(cfg.channels, cfg.encoder_filters, 7, init=False)
        stages = list(zip(cfg.ratios, cfg.kernel_sizes))[::-1]
        # the mirror of the generator: residual kernels in reverse order
        kernels = cfg.resblock_kernel_sizes[::-1]
        self.downs = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        self.norms = nn.ModuleList()
        ch = cfg.encoder_filters
        for stride, kernel in stages:
            self.downs.append(wn_conv(ch, 2 * ch, kernel, stride))
            ch *= 2
            for k in kernels:
                self.resblocks.append(resblock(cfg.resblock, ch, k, cfg.resblock_dilations))
                groups = ch // cfg.norm_group_size
                self.norms.append(nn.GroupNorm(groups, ch, eps=1e-6, affine=True))
        self.conv_post = nn.Conv1d(ch, cfg.dimension, 3, padding=1)
        init_normal(self.conv_post)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (0, (-x.shape[-1]) % self.hop_length))
        x = self.conv_pre(x)
        n = self.num_kernels
        for i, down in enumerate(self.downs):
            x = down(F.leaky_relu(x, LRELU_SLOPE))
            acc: Tensor | None = None
            for j in range(n):
                y = self.resblocks[i * n + j](x)
                acc = self.norms[i * n + j](y if acc is None else acc + y)
            assert acc is not None
            x = acc / n
        # the reference uses torch's default slope (0.01) here, not HiFi-GAN's 0.1
        return self.conv_post(F.leaky_relu(x, 0.01))
