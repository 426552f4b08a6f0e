"""Small HiFi-GAN layouts (hop 320 kept) shared by the HiFi-GAN tests."""

from __future__ import annotations

import pytest
import torch

from codec.config import CodecConfig, HiFiGANConfig, QuantizerConfig
from codec.quantize.config import CodebookConfig

#: a few thousand parameters, the published strides and kernels (hop 320)
SMALL = HiFiGANConfig(
    dimension=16,
    encoder_filters=8,
    decoder_filters=64,
    resblock_kernel_sizes=(3, 5),
    resblock_dilations=(1, 3),
)


def small_codec_config() -> CodecConfig:
    """A small hifigan codec: 16 kHz, GRVQ 2 x 2 x 32 gradient-trained codes."""
    codebook = CodebookConfig(ema=False, kmeans_init=False)
    return CodecConfig(
        sample_rate=16000,
        architecture="hifigan",
        hifigan=SMALL,
        quantizer=QuantizerConfig(groups=2, num_levels=2, codebook_size=32, codebook=codebook),
        model_id="hifigan_small",
    )


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
