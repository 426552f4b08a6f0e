"""Vocos-style decoder: ConvNeXt blocks at the frame rate and a causal inverse-STFT head."""

from codec.vocos.decoder import ConvNeXtBlock, VocosDecoder
from codec.vocos.istft import CausalISTFT, causal_stft

__all__ = ["CausalISTFT", "ConvNeXtBlock", "VocosDecoder", "causal_stft"]
