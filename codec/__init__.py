"""codec: neural audio codecs (SEANet + RVQ/GRVQ) whose tokens feed speech language models."""

from codec.config import CodecConfig, QuantizerConfig, SEANetConfig

__version__ = "0.1.0"

__all__ = ["CodecConfig", "QuantizerConfig", "SEANetConfig", "__version__"]
