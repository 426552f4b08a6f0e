"""The peer EnCodec models, built with random weights for comparisons (tests and benchmarks).

Nothing here downloads anything. The ``encodec`` package imports ``torchaudio`` at import time
only to load audio files; :func:`import_encodec` lends it a stand-in module for the duration of
the import (and removes it again, so other libraries still see that torchaudio is absent).
"""

from __future__ import annotations

import sys
import types
from typing import Any

import torch
from torch import nn

#: EnCodec's 24 kHz bandwidths (kbps) and the number of codebooks each one uses
ENCODEC_BANDWIDTHS = {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16, 24.0: 32}


def import_encodec() -> Any:
    """Import the ``encodec`` package without torchaudio; returns the module."""
    if "encodec" in sys.modules:
        return sys.modules["encodec"]
    had = "torchaudio" in sys.modules
    if not had:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import encodec
    finally:
        if not had:
            del sys.modules["torchaudio"]
    return encodec


def fit_codebooks(state: dict[str, torch.Tensor], latent: torch.Tensor, seed: int = 0) -> None:
    """Give every EnCodec codebook (either format) random centroids at the data's scale, inited.

    Random-init EnCodec codebooks are zeros until k-means runs on training data, so every code
    would be 0. Level ``l``'s centroids are drawn from a Gaussian with the mean and per-channel
    spread of the level's residual (``latent`` [B, D, T] quantized by the levels before); the
    usage statistics are random. Codes then vary from frame to frame and level to level, and
    the best and second-best distances stay far apart compared with float32 rounding (centroids
    copied from the calibration frames would over-fit them and leave later levels tiny).
    """
    gen = torch.Generator().manual_seed(seed)
    residual = latent.detach().transpose(1, 2).reshape(-1, latent.shape[1]).double()
    for prefix in codebook_prefixes(state):
        embed = state[prefix + "embed"]
        mean, spread = residual.mean(dim=0), residual.std(dim=0)
        noise = torch.randn(embed.shape, generator=gen, dtype=torch.float64)
        centroids = (mean + spread * noise).float().double()
        usage = torch.rand(embed.shape[0], generator=gen, dtype=torch.float64) * 10 + 0.1
        embed.copy_(centroids)
        state[prefix + "cluster_size"].copy_(usage)
        state[prefix + "embed_avg"].copy_(centroids * usage[:, None])
        state[prefix + "inited"].fill_(1.0)
        nearest = torch.cdist(residual, centroids).argmin(dim=1)
        residual = residual - centroids[nearest]


def codebook_prefixes(state: dict[str, torch.Tensor]) -> list[str]:
    """Key prefixes (``...codebook.``) of the codebooks in a peer state dict, in level order."""
    prefixes = [k[: -len("embed")] for k in state if k.endswith(".embed")]
    return sorted(prefixes, key=lambda k: [int(p) for p in k.split(".") if p.isdigit()])


def standardize_latent(state: dict[str, torch.Tensor], latent: torch.Tensor) -> torch.Tensor:
    """Rescale the encoder's last conv so ``latent`` [B, D, T] has zero mean, unit std per
    channel; returns the latent the rescaled encoder gives.

    Centred, unit-scale latents keep codebook distances far from float32 cancellation.
    """
    prefix = last_encoder_conv(state)
    gain_key = next(k for k in state if k.startswith(prefix) and k.endswith(_GAIN_NAMES))
    bias_key = prefix + "bias"
    mean = latent.mean(dim=(0, 2))
    scale = 1.0 / latent.std(dim=(0, 2)).clamp_min(1e-8)
    state[gain_key].mul_(scale.view(-1, 1, 1))
    state[bias_key].copy_((state[bias_key] - mean) * scale)
    return (latent - mean[:, None]) * scale[:, None]


_GAIN_NAMES = ("weight_g", "original0")


def last_encoder_conv(state: dict[str, torch.Tensor]) -> str:
    """Key prefix of the encoder's output conv (``...conv.`` holding ``bias``)."""
    biases = [k for k in state if k.startswith("encoder.") and k.endswith(".bias")]
    last = max(biases, key=lambda k: int(k.split(".")[2]))
    return last[: -len("bias")]


def calibration_latent(encoder: nn.Module, seed: int) -> torch.Tensor:
    """The peer encoder's latent [1, D, T] for 3 s of speech-like audio (not the test audio)."""
    from codec.data.synthetic import synthetic_speech

    wav = synthetic_speech(3.0, 24_000, seed=seed + 1000)[None]
    with torch.no_grad():
        out: torch.Tensor = encoder(wav)
    return out


def prepare_codebooks(model: nn.Module, seed: int) -> None:
    """Condition the peer's random encoder, then fit its codebooks on its latent.

    At random init the encoder's latent is a large constant per channel with a tiny variation
    (std ~1e-3 against float32 rounding ~1e-7), so codes would hinge on rounding and two
    correct implementations could disagree. Doubling the encoder's weight-norm gains gives a
    varied latent (rounding ~3e-6 of its spread); the output conv then standardizes it.
    Trained EnCodec latents are well conditioned and need none of this.
    """
    state = model.state_dict()
    for key in state:
        if key.startswith("encoder.") and key.endswith(_GAIN_NAMES):
            state[key].mul_(2.0)
    model.load_state_dict(state)
    latent = standardize_latent(state, calibration_latent(model.encoder, seed))
    fit_codebooks(state, latent, seed)
    model.load_state_dict(state)


def encodec_24khz_random(seed: int = 0) -> nn.Module:
    """The ``encodec`` package's causal 24 kHz model, random weights, non-trivial codebooks."""
    encodec = import_encodec()
    torch.manual_seed(seed)
    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
    prepare_codebooks(model, seed)
    return model.eval()


def transformers_encodec_random(seed: int = 0) -> nn.Module:
    """Hugging Face ``transformers.EncodecModel`` (24 kHz defaults), random weights."""
    from transformers import EncodecConfig, EncodecModel

    torch.manual_seed(seed)
    model = EncodecModel(EncodecConfig())
    prepare_codebooks(model, seed + 1)
    return model.eval()


def encodec_encode(model: nn.Module, wav: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Codes ``[B, K, T]`` from the ``encodec`` package model."""
    model.set_target_bandwidth(bandwidth)  # type: ignore[operator]
    frames = model.encode(wav)  # type: ignore[operator]
    assert len(frames) == 1
    codes: torch.Tensor = frames[0][0]
    return codes


def encodec_decode(model: nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """Audio ``[B, C, T * hop]`` from the ``encodec`` package model."""
    out: torch.Tensor = model.decode([(codes, None)])  # type: ignore[operator]
    return out
