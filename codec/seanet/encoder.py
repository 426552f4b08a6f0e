"""SEANet encoder (EnCodec's layout), streamable when causal.

The layer order mirrors EnCodec's ``SEANetEncoder.model`` one to one, in ``self.layers``, so an
EnCodec state dict loads by renaming keys only::

    model.{i}.conv.conv.weight_g / weight_v / bias -> layers.{i}.conv.parametrizations.weight.
                                                      original0 / original1, layers.{i}.conv.bias
    model.{i}.block.{j}.conv.conv.*               -> layers.{i}.block.{j}.conv.*
    model.{i}.shortcut.conv.conv.*                -> layers.{i}.shortcut.conv.*
    model.{i}.lstm.*                              -> layers.{i}.lstm.*
"""

from __future__ import annotations

from torch import nn

from codec.config import SEANetConfig
from codec.nn.activations import make_activation
from codec.nn.lstm import StreamingLSTM
from codec.seanet.blocks import SEANetResnetBlock, SEANetStack, make_conv

__all__ = ["SEANetEncoder"]


class SEANetEncoder(SEANetStack):
    """Waveform ``[B, channels, T]`` -> latent ``[B, dimension, ceil(T / hop_length)]``.

    conv in; per ratio (reversed ``cfg.ratios``): residual blocks, act, strided conv
    (k = 2 * ratio) doubling the width; LSTM with skip; act; conv out. Stream with
    ``with enc.streaming(batch_size): enc(chunk)...; enc.flush()`` (causal configs only).
    """

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__(cfg, input_channels=cfg.channels)
        nf = cfg.n_filters
        layers: list[nn.Module] = [make_conv(cfg, cfg.channels, nf, cfg.kernel_size)]
        mult = 1
        for ratio in reversed(cfg.ratios):
            layers += self._make_stage(mult * nf, ratio)
            mult *= 2
        if cfg.lstm_layers:
            layers.append(StreamingLSTM(mult * nf, num_layers=cfg.lstm_layers))
        # Activations between layers run in place: every layer here returns a fresh tensor that
        # only the next layer reads (and no backward needs it), so the copy would be wasted.
        layers += [
            make_activation(cfg.activation, mult * nf, inplace=True),
            make_conv(cfg, mult * nf, cfg.dimension, cfg.last_kernel_size),
        ]
        self.layers = nn.Sequential(*layers)

    def _make_stage(self, dim: int, ratio: int) -> list[nn.Module]:
        cfg = self.cfg
        blocks: list[nn.Module] = [
            SEANetResnetBlock(cfg, dim, cfg.dilation_base**j) for j in range(cfg.n_residual_layers)
        ]
        return [
            *blocks,
            make_activation(cfg.activation, dim, inplace=True),
            make_conv(cfg, dim, 2 * dim, 2 * ratio, stride=ratio),
        ]
