"""Vector quantizers: pure maths in ``functional``, a thin class stack on top.

``EMACodebook -> VectorQuantizer -> ResidualVQ -> GroupedResidualVQ``; every quantizer maps
``[B, D, T]`` latents to ``[B, K, T]`` codes (group-major) and back.
"""

from codec.quantize.base import QuantizerBase, QuantizerLayout, QuantizerOutput
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig, CodebookConfig
from codec.quantize.grvq import GroupedResidualVQ
from codec.quantize.rvq import ResidualVQ
from codec.quantize.vq import VectorQuantizer

__all__ = [
    "BypassConfig",
    "CodebookConfig",
    "EMACodebook",
    "GroupedResidualVQ",
    "QuantizerBase",
    "QuantizerLayout",
    "QuantizerOutput",
    "ResidualVQ",
    "VectorQuantizer",
]
