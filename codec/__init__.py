"""codec: neural audio codecs (SEANet + RVQ/GRVQ) whose tokens feed speech language models.

The public API is importable from here (``from codec import Codec, Tokens, load_model``). The
names load on first use, so ``import codec`` alone stays cheap (no torch); the first of them
imports the whole API at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codec import lazy

if TYPE_CHECKING:
    from codec.bundled import DEFAULT_MODEL, bundled_models
    from codec.config import (
        BypassConfig,
        CodebookConfig,
        CodecConfig,
        HiFiGANConfig,
        QuantizerConfig,
        SEANetConfig,
        SpectralConfig,
        VocosConfig,
    )
    from codec.loading import load_model
    from codec.model import Codec
    from codec.streaming import StreamingSession
    from codec.tokens import Tokens, TokensFormatError

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "BypassConfig",
    "Codec",
    "CodebookConfig",
    "CodecConfig",
    "HiFiGANConfig",
    "QuantizerConfig",
    "SEANetConfig",
    "SpectralConfig",
    "StreamingSession",
    "Tokens",
    "TokensFormatError",
    "VocosConfig",
    "__version__",
    "bundled_models",
    "load_model",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use and then kept here."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from codec import bundled, config, loading, model, streaming, tokens

    return lazy.export_from(
        globals(), __name__, name, (model, tokens, streaming, loading, config, bundled)
    )


def __dir__() -> list[str]:
    return lazy.names(globals(), __all__)
