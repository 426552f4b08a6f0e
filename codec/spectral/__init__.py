"""Spectral encoder: causal STFT log-magnitudes and ConvNeXt blocks at the frame rate."""

from codec.spectral.encoder import CausalFrames, SpectralEncoder

__all__ = ["CausalFrames", "SpectralEncoder"]
