"""Vector quantizers: pure maths in ``functional``, a thin class stack on top.

``EMACodebook -> VectorQuantizer -> ResidualVQ -> GroupedResidualVQ``, with ``SimVQCodebook``
as an alternative codebook and ``GroupedResidualFSQ`` (finite scalar quantization) beside them;
every quantizer maps ``[B, D, T]`` latents to ``[B, K, T]`` codes (group-major) and back.

The names load on first use: ``codec.quantize.config`` (plain dataclasses, what the model
schema needs) must not pull in torch, and importing it runs this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codec import lazy

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use and then kept here."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from codec.quantize import base, codebook, config, fsq, grvq, rvq, simvq, vq

    return lazy.export_from(
        globals(), __name__, name, (base, codebook, config, fsq, grvq, rvq, simvq, vq)
    )


def __dir__() -> list[str]:
    return lazy.names(globals(), __all__)
