"""Padding maths of the streaming convolutions, as EnCodec's ``SConv1d`` / ``SConvTranspose1d``.

Padding (as EnCodec's ``SConv1d``): a total of ``effective_kernel - stride`` samples, all on the
left when causal, split ``(total - total // 2, total // 2)`` otherwise, plus *extra* right padding
so that the last frame is complete. A causal conv therefore maps ``T`` samples to
``ceil(T / stride)`` frames, and converted EnCodec weights give identical outputs offline.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PAD_MODES",
    "check_pad_mode",
    "effective_kernel_size",
    "extra_padding",
    "output_frames",
    "pad1d",
    "split_padding",
    "startup_length",
    "total_padding",
    "transpose_trim",
]

PAD_MODES = ("constant", "reflect", "replicate")


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``(k - 1) * d + 1``."""
    return (kernel_size - 1) * dilation + 1


def total_padding(kernel_size: int, stride: int = 1, dilation: int = 1) -> int:
    """Fixed padding so that ``T`` samples give ``T / stride`` frames: ``k_eff - stride``."""
    pad = effective_kernel_size(kernel_size, dilation) - stride
    if pad < 0:
        raise ValueError(
            f"effective kernel size {effective_kernel_size(kernel_size, dilation)} is smaller "
            f"than the stride {stride}: some input samples would be skipped"
        )
    return pad


def extra_padding(length: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> int:
    """Right padding that completes the last frame of a ``length``-sample input.

    EnCodec's formula with the effective kernel (EnCodec uses the raw kernel, which only
    differs when stride > 1 and dilation > 1, a combination SEANet never uses).
    With the fixed padding above this is ``(-length) % stride``.
    """
    k_eff = effective_kernel_size(kernel_size, dilation)
    pad = total_padding(kernel_size, stride, dilation)
    n_frames = -((k_eff - pad - length) // stride) + 1  # ceil((length + pad - k_eff) / s) + 1
    ideal_length = (n_frames - 1) * stride + k_eff - pad
    return max(ideal_length - length, 0)


def output_frames(length: int, stride: int) -> int:
    """Frames produced from ``length`` samples: ``ceil(length / stride)``."""
    return -(-length // stride)


def split_padding(padding: int, causal: bool) -> tuple[int, int]:
    """(left, right) split of the fixed padding: all left if causal, else right gets the floor."""
    if causal:
        return padding, 0
    right = padding // 2
    return padding - right, right


def transpose_trim(
    kernel_size: int, stride: int, causal: bool, trim_right_ratio: float = 1.0
) -> tuple[int, int]:
    """(left, right) samples a transposed conv drops so ``F`` frames give ``F * stride`` samples."""
    pad = total_padding(kernel_size, stride)
    if not causal:
        return split_padding(pad, causal=False)
    right = math.ceil(pad * trim_right_ratio)  # ceil, as EnCodec
    return pad - right, right


def startup_length(left: int, right: int, stride: int, pad_mode: str) -> int:
    """Inputs a streaming conv waits for before it can apply its left padding.

    Reflect needs ``x[1..left]`` and, so that the final right reflection is always legal, at
    least ``right + stride`` samples; replicate needs ``x[0]``; zeros need nothing.
    """
    if pad_mode == "reflect":
        return max(left + 1, right + stride)
    if pad_mode == "replicate":
        return 1
    return 0


def pad1d(x: Tensor, left: int, right: int, mode: str = "constant") -> Tensor:
    """``F.pad`` on the time axis, with EnCodec's rule for reflecting a too-short input.

    If ``x`` is not longer than the reflection, it is first extended with zeros on the right
    (and those are cut again afterwards), exactly as EnCodec does.
    """
    if left == 0 and right == 0:
        return x  # 1x1 convs and steady-state streaming: no copy
    if mode != "reflect":
        return F.pad(x, (left, right), mode=mode)
    length = x.shape[-1]
    widest = max(left, right)
    grow = widest - length + 1 if length <= widest else 0
    padded = F.pad(F.pad(x, (0, grow)), (left, right), mode="reflect")
    return padded[..., : padded.shape[-1] - grow]


def check_pad_mode(pad_mode: str) -> None:
    """Raise ``ValueError`` unless ``pad_mode`` is one of :data:`PAD_MODES`."""
    if pad_mode not in PAD_MODES:
        raise ValueError(f"unknown pad_mode {pad_mode!r}; expected one of {PAD_MODES}")
