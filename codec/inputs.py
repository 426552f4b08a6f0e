"""Input checks and frame padding for :class:`~codec.model.Codec` (audio ``[B, C, T]``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "as_batch",
    "check_lengths",
    "check_waveform",
    "frame_count",
    "frame_mask",
    "mono_batch",
    "pad_to_frames",
]


def as_batch(wav: Any) -> Tensor:
    """Accept [T], [C, T] or [B, C, T] float audio; anything else is a clear ValueError."""
    if not isinstance(wav, Tensor):
        raise ValueError(f"audio must be a torch.Tensor, got {type(wav).__name__}")
    if not wav.is_floating_point():
        raise ValueError(f"audio must be floating point in [-1, 1], got dtype {wav.dtype}")
    if wav.dim() == 0 or wav.dim() > 3:
        raise ValueError(f"audio must be [T], [C, T] or [B, C, T], got shape {tuple(wav.shape)}")
    while wav.dim() < 3:
        wav = wav.unsqueeze(0)
    if wav.numel() == 0:
        raise ValueError(f"audio is empty: shape {tuple(wav.shape)}")
    if not torch.isfinite(wav).all():
        raise ValueError("audio contains NaN or infinite values")
    return wav.float()


def check_waveform(wav: Tensor, channels: int) -> Tensor:
    """``wav`` itself if it is ``[B, channels, T]``, else a ValueError naming the shape."""
    if wav.dim() != 3 or wav.shape[1] != channels:
        raise ValueError(f"expected audio [B, {channels}, T], got shape {tuple(wav.shape)}")
    return wav


def check_lengths(lengths: Tensor, wav: Tensor) -> Tensor:
    """Valid samples per item ``[B]`` (long, on cpu), each in ``[1, T]`` of ``wav`` [B, C, T]."""
    lengths = torch.as_tensor(lengths, dtype=torch.long).flatten().cpu()
    if lengths.shape[0] != wav.shape[0]:
        raise ValueError(f"lengths has {lengths.shape[0]} items for a batch of {wav.shape[0]}")
    if int(lengths.min()) < 1 or int(lengths.max()) > wav.shape[-1]:
        raise ValueError(f"lengths must be in [1, {wav.shape[-1]}], got {lengths.tolist()}")
    return lengths


def frame_count(lengths: Tensor, hop_length: int) -> Tensor:
    """Frames ``[B]`` needed to cover ``lengths`` [B] samples: ``ceil(lengths / hop_length)``."""
    return torch.div(lengths + hop_length - 1, hop_length, rounding_mode="floor")


def pad_to_frames(wav: Tensor, lengths: Tensor, frames: Tensor, hop_length: int) -> Tensor:
    """[B, C, T] -> [B, C, max(frames) * hop], zero after each item's ``lengths`` samples."""
    width = int(frames.max()) * hop_length
    wav = nn.functional.pad(wav, (0, max(0, width - wav.shape[-1])))[..., :width]
    return wav * frame_mask(lengths.to(wav.device), width)[:, None, :].to(wav.dtype)


def frame_mask(lengths: Tensor, width: int) -> Tensor:
    """[B] lengths -> [B, width] bool mask, True on valid positions."""
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


def mono_batch(x: Tensor) -> Tensor:
    """A mono waveform batch ``[B, 1, T]`` or ``[B, T]`` as ``[B, T]`` (losses, metrics)."""
    if x.dim() == 3 and x.shape[1] == 1:
        return x[:, 0]
    if x.dim() == 2:
        return x
    raise ValueError(f"expected a waveform [B, 1, T] or [B, T], got {tuple(x.shape)}")
