"""SEANet decoder (EnCodec's layout), streamable when causal.

``self.layers`` mirrors EnCodec's ``SEANetDecoder.model`` one to one; transposed convs map
``model.{i}.convtr.convtr.*`` -> ``layers.{i}.convtr.*`` (other keys as in ``encoder.py``).
"""

from __future__ import annotations

from torch import nn

from codec.config import SEANetConfig
from codec.nn.activations import make_activation
from codec.nn.conv import StreamingConvTranspose1d
from codec.nn.lstm import StreamingLSTM
from codec.seanet.blocks import SEANetResnetBlock, SEANetStack, make_conv

__all__ = ["SEANetDecoder"]


class SEANetDecoder(SEANetStack):
    """Latent ``[B, dimension, F]`` -> waveform ``[B, channels, F * hop_length]``.

    conv in (widest); LSTM with skip; per ratio (``cfg.ratios`` order): act, transposed conv
    (k = 2 * ratio) halving the width, residual blocks; act; conv out. Causal transposed convs
    trim ``trim_right_ratio`` of their overlap on the right. Stream like the encoder.
    """

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__(cfg, input_channels=cfg.dimension)
        nf = cfg.n_filters
        mult = 2 ** len(cfg.ratios)
        layers: list[nn.Module] = [make_conv(cfg, cfg.dimension, mult * nf, cfg.kernel_size)]
        if cfg.lstm_layers:
            layers.append(StreamingLSTM(mult * nf, num_layers=cfg.lstm_layers))
        for ratio in cfg.ratios:
            layers += self._make_stage(mult * nf, ratio)
            mult //= 2
        # In-place activations: each follows a layer whose fresh output only it reads.
        layers += [
            make_activation(cfg.activation, nf, inplace=True),
            make_conv(cfg, nf, cfg.channels, cfg.last_kernel_size),
        ]
        self.layers = nn.Sequential(*layers)

    def _make_stage(self, dim: int, ratio: int) -> list[nn.Module]:
        cfg = self.cfg
        upsample = StreamingConvTranspose1d(
            dim,
            dim // 2,
            2 * ratio,
            ratio,
            causal=cfg.causal,
            norm=cfg.norm,
            trim_right_ratio=cfg.trim_right_ratio,
        )
        blocks = [
            SEANetResnetBlock(cfg, dim // 2, cfg.dilation_base**j)
            for j in range(cfg.n_residual_layers)
        ]
        return [make_activation(cfg.activation, dim, inplace=True), upsample, *blocks]
