"""Small Vocos-decoder configs shared by the Vocos tests."""

from __future__ import annotations

import dataclasses

from codec.config import CodecConfig, VocosConfig
from tests.conftest import tiny_config
from tests.nn.helpers import one_torch_thread

__all__ = ["SMALL", "one_torch_thread", "vocos_codec_config"]

#: a few thousand parameters; n_fft 32 = 4 hops of the tiny codec (hop 8)
SMALL = VocosConfig(dim=16, intermediate_dim=48, num_blocks=2, n_fft=32)


def vocos_codec_config(vocos: VocosConfig = SMALL, **kwargs: object) -> CodecConfig:
    """:func:`tests.conftest.tiny_config` (hop 8, 16-dim latent) with the Vocos decoder."""
    return dataclasses.replace(tiny_config(**kwargs), decoder="vocos", vocos=vocos)  # type: ignore[arg-type]
