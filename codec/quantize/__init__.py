"""Vector quantizers: pure maths in ``functional``, a thin class stack on top.

``EMACodebook -> VectorQuantizer -> ResidualVQ -> GroupedResidualVQ``, with ``SimVQCodebook``
as an alternative codebook and ``GroupedResidualFSQ`` (finite scalar quantization) beside them;
every quantizer maps ``[B, D, T]`` latents to ``[B, K, T]`` codes (group-major) and back.
"""

from codec.quantize.base import QuantizerBase, QuantizerLayout, QuantizerOutput
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig, CodebookConfig
from codec.quantize.fsq import FSQCodebook, GroupedResidualFSQ
from codec.quantize.grvq import GroupedResidualVQ
from codec.quantize.rvq import ResidualVQ
from codec.quantize.simvq import SimVQCodebook
from codec.quantize.vq import VectorQuantizer

__all__ = [
    "BypassConfig",
    "CodebookConfig",
    "EMACodebook",
    "FSQCodebook",
    "GroupedResidualFSQ",
    "GroupedResidualVQ",
    "QuantizerBase",
    "QuantizerLayout",
    "QuantizerOutput",
    "ResidualVQ",
    "SimVQCodebook",
    "VectorQuantizer",
]
