"""HiFi-Codec's HiFi-GAN-style encoder and generator (offline only: they do not stream).

Modules: ``blocks`` (residual blocks, weight-normed convs), ``encoder``, ``generator``.
"""

from __future__ import annotations

from codec.hifigan.blocks import ResBlock1, ResBlock2
from codec.hifigan.encoder import HiFiGANEncoder
from codec.hifigan.generator import HiFiGANGenerator

__all__ = ["HiFiGANEncoder", "HiFiGANGenerator", "ResBlock1", "ResBlock2"]
