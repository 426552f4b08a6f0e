"""Fast forms of the convolutions, as pure functions (same maths as ``F.conv1d`` & co.).

Why: at speech lengths the big activations (``[B, 32, 240000]`` is 30 MB) do not fit in cache,
so every extra pass over them costs as much as a small convolution. These forms remove passes
that torch's generic kernels make:

- ``padded_conv1d``: never copies the input into a padded buffer; the few frames whose window
  touches the padding are computed from short padded slices, the rest from the input itself.
- ``pointwise_conv1d``: a 1x1 convolution is one GEMM per item; it can accumulate into an
  existing tensor (the residual sum) so the separate addition disappears.
- ``conv_transpose1d_fold``: a transposed convolution as one GEMM plus an overlap-add,
  1.5-3x faster than torch's CPU kernel for SEANet's up-sampling layers.

They were measured (speed and accuracy) on CPU float32 only, and some accumulate in place into
float32 tensors, which autocast's lower-precision GEMMs cannot do: callers check
``kernels_apply`` and use torch's reference ops everywhere else (GPU, bf16, autocast).

Batch- and chunk-invariant forms, for the frame-rate layers whose outputs become tokens: a GEMM's
rounding depends on its shape (MKL takes another path below about 7 rows, oneDNN's convolutions
block by length), so the same frame encoded in a batch, alone or in a streaming chunk could get
latents a few ulps apart and, at a near-tie, another code. ``framewise_linear`` is one GEMM per
tile of exactly ``ROW_TILE`` frames (the last one zero-padded): every product has one shape, so
each frame is reduced in the same order wherever it sits; ``framewise_conv1d`` is a convolution
as such a per-frame GEMM over its window (depthwise: a fixed sum over the taps). Row-wise ops
(LayerNorm, FFT, activations, argmin) already compute each row alone whatever the row count
(tests/test_invariance.py checks the whole encoder). They run in inference only
(``invariant_apply``; training keeps the untiled forms).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "FEW_FRAMES",
    "conv1d_unpadded",
    "conv1d_zero_padded",
    "conv_transpose1d_fold",
    "framewise_conv1d",
    "framewise_linear",
    "invariant_apply",
    "kernels_apply",
    "padded_conv1d",
    "pointwise_conv1d",
]

# Up to this many output frames (a streaming chunk), a conv runs as im2col + one GEMM.
FEW_FRAMES = 16
# Up to this many input frames, a transposed conv's GEMM runs time-major (see below).
FEW_FRAMES_TRANSPOSED = 64
# A transposed conv's GEMM output is computed in blocks of about this many floats (16 MB).
BLOCK_FLOATS = 4 * 2**20
# Below this many weights per output sample (C_in * K), im2col + GEMM beats oneDNN's kernel.
SMALL_IM2COL = 16
# Frames per call of the invariant forms: at least MKL's small-matrix threshold (7 rows here), and
# small enough that a tile's elementwise ops stay on one thread (under torch's 32768 grain).
ROW_TILE = 16


def kernels_apply(x: Tensor, weight: Tensor) -> bool:
    """Whether the forms below may run on ``x`` with ``weight``: CPU float32, autocast off for
    the input's device (where they were measured), and not while tracing or exporting (their
    shape-dependent Python branches and backend flags have no graph form); otherwise use
    ``F.conv1d`` & co."""
    device = x.device.type
    return (
        device == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch.is_autocast_enabled(device)
        and not torch.jit.is_tracing()
        and not torch.onnx.is_in_onnx_export()
    )


def pointwise_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    accumulate: Tensor | None = None,
    inplace: bool = False,
) -> Tensor:
    """1x1 conv ``[B, C_in, T] -> [B, C_out, T]`` as GEMMs; ``weight`` is ``[C_out, C_in, 1]``.

    With ``accumulate`` (``[B, C_out, T]``) the result is ``accumulate + conv(x)``, summed by
    the GEMM itself (no separate addition pass), into ``accumulate`` when ``inplace``.
    """
    w = weight.squeeze(-1)
    if accumulate is None:
        if bias is None:
            return _matmul(w, x)
        if x.shape[0] == 1:
            return torch.addmm(bias[:, None], w, x[0]).unsqueeze(0)
        return torch.baddbmm(bias[None, :, None], w.expand(x.shape[0], -1, -1), x)
    out = accumulate if inplace else accumulate.clone()
    if x.shape[0] == 1:
        out[0].addmm_(w, x[0])
    else:
        out.baddbmm_(w.expand(x.shape[0], -1, -1), x)
    return out if bias is None else out.add_(bias[:, None])


def _matmul(w: Tensor, x: Tensor) -> Tensor:
    """``w @ x[b]`` for each item: ``[M, K] x [B, K, N] -> [B, M, N]``, contiguous.

    ``torch.matmul`` would fold the batch into the rows of a transposed product and copy it back.
    """
    if x.shape[0] == 1:
        return torch.mm(w, x[0]).unsqueeze(0)
    return torch.bmm(w.expand(x.shape[0], -1, -1), x)


def conv_transpose1d_fold(x: Tensor, weight: Tensor, stride: int) -> Tensor:
    """``F.conv_transpose1d(x, weight, None, stride)``: ``[B, C_in, F] -> [B, C_out, L]``.

    ``weight`` is ``[C_in, C_out, K]`` and ``L = (F - 1) * stride + K``. One GEMM gives every
    frame's ``[C_out, K]`` contribution; they are overlap-added ``stride`` apart: by ``K / stride``
    shifted additions when the stride divides ``K`` (SEANet's ``K = 2 * stride``; unlike
    ``F.fold`` these run on all threads), else by ``F.fold``.
    """
    batch, c_in, frames = x.shape
    _, c_out, kernel = weight.shape
    w = weight.reshape(c_in, c_out * kernel)
    length = (frames - 1) * stride + kernel
    if kernel % stride:
        cols = _matmul(w.t(), x)
        out = F.fold(cols, (1, length), (1, kernel), stride=(1, stride))
        return out.view(batch, c_out, length)
    taps = kernel // stride
    out = x.new_zeros(batch, c_out, frames + taps - 1, stride)
    if frames <= FEW_FRAMES_TRANSPOSED:
        # Time-major product [B, F, C_out * K]: for a streaming chunk's few frames W^T @ x is a
        # GEMM with a tiny N, 4x slower; for many frames the strided reads cost more.
        if batch == 1:
            cols = torch.mm(x[0].t(), w).unsqueeze(0)
        else:
            cols = torch.bmm(x.transpose(1, 2), w.expand(batch, -1, -1))
        _overlap_add(out, cols.transpose(1, 2), 0, taps, stride)
        return out.view(batch, c_out, length)
    # Blocks of frames: the [C_out * K, frames] product of a whole utterance is 2x the output
    # (61 MB for 10 s at 24 kHz); above 32 MB glibc maps fresh pages for every such temporary,
    # which alone costs more than the GEMM.
    block = max(FEW_FRAMES_TRANSPOSED, BLOCK_FLOATS // (batch * c_out * kernel))
    for first in range(0, frames, block):
        cols = _matmul(w.t(), x[..., first : first + block])
        _overlap_add(out, cols, first, taps, stride)
    return out.view(batch, c_out, length)


def _overlap_add(out: Tensor, cols: Tensor, first: int, taps: int, stride: int) -> None:
    """Add frames ``first...`` (``cols`` ``[B, C_out * K, n]``) into ``out`` ``[B, C_out, F', s]``."""
    batch, _, n = cols.shape
    parts = cols.reshape(batch, out.shape[1], taps, stride, n).transpose(-1, -2)  # [B,C,m,n,s]
    for j in range(taps):
        out[:, :, first + j : first + j + n] += parts[:, :, j]


def padded_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: int,
    dilation: int,
    padding: tuple[int, int],
    mode: str,
) -> Tensor | None:
    """``F.conv1d(F.pad(x, padding, mode), ...)`` without the padded copy of ``x``:
    ``[B, C_in, T] -> [B, C_out, n]``.

    The frames whose window reaches into the padding are computed from short padded slices,
    the rest straight from ``x`` (oneDNN is also 1.2-2x faster on an unpadded input than with
    its own ``padding=``). Returns ``None`` when ``x`` is too short for the slices to stay apart:
    the caller then pads explicitly.
    """
    left, right = padding
    length = x.shape[-1]
    k_eff = (weight.shape[-1] - 1) * dilation + 1
    n = (length + left + right - k_eff) // stride + 1
    if n <= 0 or length < 4 * (k_eff + left + right + stride):
        return None
    head = -(-left // stride)  # frames j with j * stride < left start in the left padding
    first = n  # first frame computed from a right-padded slice
    if right:
        # The first frame whose window passes the end, moved back so that the slice outlasts
        # the reflection (a reflection of the slice must equal that of the whole input).
        first = min((length + left - k_eff) // stride + 1, (length - right - 1 + left) // stride)
    pieces = []
    if head:
        part = F.pad(x[..., : (head - 1) * stride + k_eff + 1], (left, 0), mode=mode)
        pieces.append(F.conv1d(part, weight, bias, stride, 0, dilation)[..., :head])
    if first > head:
        body = x[..., head * stride - left : (first - 1) * stride - left + k_eff]
        pieces.append(conv1d_zero_padded(body, weight, bias, stride, 0, dilation))
    if first < n:
        part = F.pad(x[..., first * stride - left :], (0, right), mode=mode)
        pieces.append(F.conv1d(part, weight, bias, stride, 0, dilation))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)


def conv1d_zero_padded(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int, dilation: int
) -> Tensor:
    """``F.conv1d(x, weight, bias, stride, padding, dilation)``, with faster forms for the thin
    layers at the waveform end of SEANet (1 -> 32 channels in, 32 -> 1 out), where oneDNN's
    kernels run far below the machine's GEMM speed."""
    c_out, c_in, kernel = weight.shape
    if stride == 1 and c_out * kernel <= c_in:
        return _shift_sum_conv1d(x, weight, bias, padding, dilation)
    if c_in * kernel <= SMALL_IM2COL:
        padded = F.pad(x, (padding, padding))  # C_in is tiny: this copy is cheap
        cols = padded.unfold(-1, (kernel - 1) * dilation + 1, stride)[..., ::dilation]
        cols = cols.permute(0, 1, 3, 2).reshape(x.shape[0], c_in * kernel, -1)
        w = weight.reshape(c_out, c_in * kernel)
        if bias is None:
            return _matmul(w, cols)
        return torch.baddbmm(bias[None, :, None], w.expand(x.shape[0], -1, -1), cols)
    return F.conv1d(x, weight, bias, stride, padding, dilation)


def _shift_sum_conv1d(
    x: Tensor, weight: Tensor, bias: Tensor | None, padding: int, dilation: int
) -> Tensor:
    """Stride-1 conv with few outputs per tap: one GEMM gives every tap's contribution
    ``[B, K, C_out, T]``, then the taps are summed with their time shifts."""
    batch, _, length = x.shape
    c_out, c_in, kernel = weight.shape
    taps = _matmul(weight.permute(2, 0, 1).reshape(kernel * c_out, c_in), x)
    taps = taps.view(batch, kernel, c_out, length)
    out_length = length + 2 * padding - (kernel - 1) * dilation
    if bias is None:
        y = x.new_zeros(batch, c_out, out_length)
    else:
        y = bias[None, :, None].expand(batch, c_out, out_length).clone()
    for k in range(kernel):
        offset = k * dilation - padding  # output i reads input i + offset
        lo, hi = max(0, -offset), min(out_length, length - offset)
        if hi > lo:
            y[..., lo:hi] += taps[:, k, :, lo + offset : hi + offset]
    return y


def conv1d_unpadded(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, dilation: int
) -> Tensor:
    """``F.conv1d(x, weight, bias, stride, 0, dilation)``; the result may be a non-contiguous view.

    For the few frames of a streaming chunk, im2col + one time-major GEMM: torch's own kernel
    runs 2-4x slower there (its GEMM has a tiny N).
    """
    c_out, c_in, kernel = weight.shape
    k_eff = (kernel - 1) * dilation + 1
    frames = (x.shape[-1] - k_eff) // stride + 1
    if frames > FEW_FRAMES or frames <= 0:
        return conv1d_zero_padded(x, weight, bias, stride, 0, dilation)
    cols = x.unfold(-1, k_eff, stride)[..., ::dilation]  # [B, C_in, n, K]
    cols = cols.permute(0, 2, 1, 3).reshape(x.shape[0], frames, c_in * kernel)
    w = weight.reshape(c_out, c_in * kernel).t()
    if x.shape[0] == 1:
        y = torch.mm(cols[0], w) if bias is None else torch.addmm(bias, cols[0], w)
        return y.t().unsqueeze(0)
    y = torch.matmul(cols, w)
    return (y if bias is None else y.add_(bias)).transpose(1, 2)


def invariant_apply(x: Tensor) -> bool:
    """Whether the invariant forms run on ``x``: where the fast forms may (``kernels_apply``)
    and outside autograd (training needs no invariant codes and would pay for the tiles)."""
    return kernels_apply(x, x) and not torch.is_grad_enabled()


def framewise_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, scale: float = 1.0
) -> Tensor:
    """``scale * x @ weight.T + bias``: ``x`` [..., K], ``weight`` [N, K], ``bias`` [N] ->
    [..., N], each frame (row) computed the same way whatever the leading shape and its place:
    one GEMM per tile of exactly ``ROW_TILE`` frames (the last zero-padded). Plain
    ``F.linear`` / ``addmm`` where ``invariant_apply`` says no."""
    if not invariant_apply(x):
        if scale == 1.0:
            return F.linear(x, weight, bias)
        return (
            torch.addmm(bias, x, weight.t(), alpha=scale)
            if bias is not None
            else scale * (x @ weight.t())
        )
    k, n_out = x.shape[-1], weight.shape[0]
    rows = x.reshape(-1, k)
    n = rows.shape[0]
    pad = (-n) % ROW_TILE if n else ROW_TILE
    if pad:
        rows = torch.cat([rows, rows.new_zeros(pad, k)])
    bias = rows.new_zeros(n_out) if bias is None else bias
    # one addmm per tile: a batched GEMM may vectorise across the batch for small matrices
    w = weight.t()
    out = torch.cat([torch.addmm(bias, t, w, alpha=scale) for t in rows.split(ROW_TILE)])
    return out[:n].view(*x.shape[:-1], n_out)


def framewise_conv1d(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, dilation: int, groups: int
) -> Tensor:
    """``F.conv1d(x, weight, bias, stride, 0, dilation, groups)`` [B, C_in, L] -> [B, C_out, n]
    with each output frame computed from its own window in one fixed order: im2col rows through
    ``framewise`` GEMMs; depthwise, the taps summed one by one (exactly rounded elementwise ops,
    the same in torch's vector and scalar loops). Other groupings: ``F.conv1d``."""
    c_out, c_in, kernel = weight.shape
    k_eff = (kernel - 1) * dilation + 1
    n = (x.shape[-1] - k_eff) // stride + 1
    if n <= 0:
        return x.new_zeros(x.shape[0], c_out, 0)
    if groups == 1:
        cols = x.unfold(-1, k_eff, stride)[..., ::dilation]  # [B, C_in, n, K]
        rows = cols.permute(0, 2, 1, 3).reshape(x.shape[0], n, c_in * kernel)
        w = weight.reshape(c_out, c_in * kernel)
        return framewise_linear(rows, w, bias).transpose(1, 2)
    if c_in == 1 and groups == c_out == x.shape[1]:
        y = x[..., : (n - 1) * stride + 1 : stride] * weight[:, :, 0]
        for k in range(1, kernel):
            start = k * dilation
            y = y + x[..., start : start + (n - 1) * stride + 1 : stride] * weight[:, :, k]
        return y if bias is None else y + bias[:, None]
    return F.conv1d(x, weight, bias, stride, 0, dilation, groups)
