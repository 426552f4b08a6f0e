"""Streaming 1-d convolutions with EnCodec's padding semantics (see ``codec.nn.padding``).

Streaming: frame ``i`` of a causal conv needs inputs ``< (i + 1) * stride``, so it is emitted as
soon as they arrived. With ``pad_mode="constant"`` (zeros) that is all: the layer is truly causal.
With ``"reflect"`` the left padding is ``x[left], ..., x[1]``: the first frames depend on a few
*later* samples, so the layer waits for ``left + 1`` inputs (and a whole stride) before emitting
anything; afterwards it runs in steady state. EnCodec's causal 24 kHz model uses reflect; our own
causal presets use constant. At ``flush`` the extra right padding is computed from the total
length seen and filled exactly as offline (zeros, reflection or replication of the tail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codec.nn.kernels import (
    conv1d_unpadded,
    conv_transpose1d_fold,
    framewise_conv1d,
    invariant_apply,
    kernels_apply,
    padded_conv1d,
    pointwise_conv1d,
)
from codec.nn.norm import apply_norm
from codec.nn.padding import (
    check_pad_mode,
    effective_kernel_size,
    extra_padding,
    pad1d,
    split_padding,
    startup_length,
    total_padding,
    transpose_trim,
)
from codec.nn.streaming import State, StreamingModule, zero_rows

__all__ = [
    "ConvState",
    "ConvTransposeState",
    "StreamingConv",
    "StreamingConv1d",
    "StreamingConvTranspose1d",
]


def _cat(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else torch.cat([a, b], dim=-1)


StateT = TypeVar("StateT", bound=State)


class StreamingConv(StreamingModule[StateT]):
    """What the streaming convs share: their shape attributes and "only causal ones stream"."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, causal: bool
    ) -> None:
        super().__init__()
        self.input_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.causal = causal

    def geometry(self) -> str:
        """The constructor arguments that name this layer in messages."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def check_streamable(self) -> None:
        if not self.causal:
            raise ValueError(
                f"non-causal model cannot stream; {type(self).__name__}({self.geometry()}) has "
                "causal=False: build the model with causal=True or run it offline"
            )


@dataclass
class ConvState(State):
    """History of a ``StreamingConv1d``.

    ``pending``: raw inputs held before start-up (reflect needs ``left + 1`` of them);
    ``buffer``: the padded stream from the next frame's first sample (shorter than a kernel);
    ``tail``: last real inputs, to reflect or replicate at the end; ``seen``: inputs so far.
    """

    pending: Tensor | None = None
    buffer: Tensor | None = None
    tail: Tensor | None = None
    seen: int = 0

    def reset_items(self, mask: Tensor) -> None:
        """Zero the items' rows of ``buffer``. At a stride boundary of a zero-padded conv the
        buffer is exactly the left padding, so this is a fresh stream's start; ``seen`` stays
        shared, which is exact as it only matters modulo the stride."""
        if self.buffer is not None:
            self.buffer = zero_rows(self.buffer, mask)


class StreamingConv1d(StreamingConv[ConvState]):
    """Conv1d with EnCodec's padding that streams chunks of any size: ``[B, C_in, T]``.

    Offline output is ``[B, C_out, ceil(T / stride)]``. The wrapped ``nn.Conv1d`` is ``self.conv``
    (EnCodec's ``conv.conv``), optionally weight-normalised. ``framewise`` (for frame-rate layers:
    im2col copies ``kernel_size`` inputs per output) computes every output frame the same way
    whatever the batch and the chunk (``codec.nn.kernels.framewise_conv1d``) in CPU inference.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        *,
        causal: bool = False,
        pad_mode: str = "reflect",
        norm: str = "none",
        bias: bool = True,
        groups: int = 1,
        framewise: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, causal)
        self.framewise = framewise
        check_pad_mode(pad_mode)
        conv = nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            dilation=dilation,
            bias=bias,
            groups=groups,
        )
        self.conv = apply_norm(conv, norm)
        self.dilation = dilation
        self.groups = groups
        self.pad_mode = pad_mode
        self.k_eff = effective_kernel_size(kernel_size, dilation)
        self.left, self.right = split_padding(total_padding(kernel_size, stride, dilation), causal)
        self.startup = startup_length(self.left, self.right, stride, pad_mode)
        # A 1x1 conv has no padding and no history: every chunk maps through one GEMM.
        self.pointwise = kernel_size == 1 and stride == 1

    def extra_repr(self) -> str:
        return f"causal={self.causal}, pad_mode={self.pad_mode!r}"

    def geometry(self) -> str:
        groups = f", groups={self.groups}" if self.groups != 1 else ""
        return f"{super().geometry()}, dilation={self.dilation}{groups}"

    def _fast(self, x: Tensor) -> bool:
        """Whether ``codec.nn.kernels`` may run: they know only ungrouped convolutions."""
        return self.groups == 1 and kernels_apply(x, self.conv.weight)

    def _invariant(self, x: Tensor) -> bool:
        """Whether ``framewise_conv1d`` runs (then the offline and 1x1 shortcuts are skipped:
        every frame goes through the same windows as when streaming)."""
        return self.framewise and invariant_apply(x)

    def check_item_reset(self, state: ConvState) -> None:
        if self.pointwise:
            return  # no padding, no history: nothing to get wrong
        if self.pad_mode != "constant":
            raise ValueError(
                f"cannot reset single batch items with pad_mode={self.pad_mode!r}: a fresh "
                "stream would pad from its own first samples; use pad_mode='constant'"
            )
        if state.seen % self.stride:
            raise ValueError(
                f"cannot reset single batch items after {state.seen} inputs of a stride-"
                f"{self.stride} conv ({self.geometry()}): reset at a multiple of the stride "
                "(of the hop length for a whole model)"
            )

    def init_state(self, batch_size: int) -> ConvState:
        return ConvState(batch_size=batch_size)

    def step(self, x: Tensor, state: ConvState) -> Tensor:
        invariant = self._invariant(x)
        if self.pointwise and not invariant:
            state.seen += x.shape[-1]
            return self.pointwise_forward(x)
        fresh = state.seen == 0 and state.buffer is None and state.pending is None
        if state.final and fresh and not invariant:
            y = self._offline(x)  # the whole stream in one call: pad without copying x
            if y is not None:
                state.seen = x.shape[-1]
                return y
        state.seen += x.shape[-1]
        if self.pad_mode != "constant":
            # right + stride real samples are enough for any final reflection / replication.
            keep = self.right + self.stride
            source = x if x.shape[-1] >= keep else _cat(state.tail, x)  # no copy of long chunks
            state.tail = source[..., -keep:]
        if state.buffer is None:
            state.pending = _cat(state.pending, x)
            if state.pending.shape[-1] < self.startup or state.pending.shape[-1] == 0:
                if not state.final:
                    return self._no_output(x)
                return self._whole_stream(state.pending)
            state.buffer = pad1d(state.pending, self.left, 0, self.pad_mode)
            state.pending = None
        else:
            state.buffer = torch.cat([state.buffer, x], dim=-1)
        if state.final:
            state.buffer = self._pad_right(state.buffer, state)
        return self._emit(state)

    def pointwise_forward(
        self, x: Tensor, accumulate: Tensor | None = None, inplace: bool = False
    ) -> Tensor:
        """1x1 conv of ``x`` [B, C_in, T], added to ``accumulate`` [B, C_out, T] if given
        (in place when ``inplace``: the caller owns ``accumulate``)."""
        weight, bias = self.conv.weight, self.conv.bias
        if self._fast(x) and (accumulate is None or accumulate.dtype == x.dtype):
            return pointwise_conv1d(x, weight, bias, accumulate, inplace)
        # torch's conv rejects an empty chunk (a flush), the GEMM forms do not
        y = F.conv1d(x, weight, bias, groups=self.groups) if x.shape[-1] else self._no_output(x)
        return y if accumulate is None else accumulate + y

    def _offline(self, x: Tensor) -> Tensor | None:
        """Offline output without a padded copy of ``x``; ``None`` if that form does not apply."""
        extra = extra_padding(x.shape[-1], self.kernel_size, self.stride, self.dilation)
        padding = (self.left, self.right + extra)
        weight, bias = self.conv.weight, self.conv.bias
        if not self._fast(x):
            if x.shape[-1] == 0:
                return None  # as below: the streaming path emits nothing
            x = pad1d(x, *padding, self.pad_mode)
            return F.conv1d(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return padded_conv1d(x, weight, bias, self.stride, self.dilation, padding, self.pad_mode)

    def _no_output(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], self.out_channels, 0)

    def _whole_stream(self, x: Tensor) -> Tensor:
        """Final call before start-up: the whole (short) stream is in hand; pad as offline."""
        if x.shape[-1] == 0:
            return self._no_output(x)
        extra = extra_padding(x.shape[-1], self.kernel_size, self.stride, self.dilation)
        return self.conv(pad1d(x, self.left, self.right + extra, self.pad_mode))

    def _pad_right(self, buffer: Tensor, state: ConvState) -> Tensor:
        """Append the end-of-stream padding: fixed right part + extra from the length seen."""
        size = self.right + extra_padding(state.seen, self.kernel_size, self.stride, self.dilation)
        if size == 0:  # the common offline case: no copy
            return buffer
        if self.pad_mode == "constant" or state.tail is None:
            return F.pad(buffer, (0, size))
        # Reflect / replicate the last real samples, kept in `tail` since they may be consumed.
        pad = F.pad(state.tail, (0, size), mode=self.pad_mode)[..., state.tail.shape[-1] :]
        return torch.cat([buffer, pad], dim=-1)

    def _emit(self, state: ConvState) -> Tensor:
        """Run the conv on every complete window of the buffer and drop what they consumed."""
        buffer = state.buffer
        assert buffer is not None
        n = (buffer.shape[-1] - self.k_eff) // self.stride + 1
        if n <= 0:
            return self._no_output(buffer)
        windows = buffer[..., : (n - 1) * self.stride + self.k_eff]
        weight, bias = self.conv.weight, self.conv.bias
        if self._invariant(windows):
            y = framewise_conv1d(windows, weight, bias, self.stride, self.dilation, self.groups)
        elif self._fast(windows):
            y = conv1d_unpadded(windows, weight, bias, self.stride, self.dilation)
        else:
            y = F.conv1d(windows, weight, bias, self.stride, 0, self.dilation, self.groups)
        state.buffer = buffer[..., n * self.stride :]
        return y


@dataclass
class ConvTransposeState(State):
    """History of a ``StreamingConvTranspose1d``.

    ``partial``: overlap-add tail ``[B, C_out, k - stride]`` (no bias yet) that later frames
    still add to; ``skip``: samples still to drop on the left.
    """

    partial: Tensor | None = None
    skip: int = 0

    def reset_items(self, mask: Tensor) -> None:
        """Zero the items' overlap tail: a fresh stream has nothing to add yet."""
        if self.partial is not None:
            self.partial = zero_rows(self.partial, mask)


class StreamingConvTranspose1d(StreamingConv[ConvTransposeState]):
    """ConvTranspose1d with EnCodec's trimming, streamable: ``[B, C_in, F] -> [B, C_out, F*s]``.

    Frame ``i`` touches outputs ``[i*s, i*s + k)``, so after ``n`` frames the first ``n*s`` outputs
    are final and the overlap is kept for the next chunk. When causal, ``trim_right_ratio``
    splits the trimmed ``k - s`` samples between right (dropped at flush) and left (dropped at
    start). The wrapped module is ``self.convtr`` (EnCodec's ``convtr.convtr``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        *,
        causal: bool = False,
        norm: str = "none",
        trim_right_ratio: float = 1.0,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, causal)
        if not causal and trim_right_ratio != 1.0:
            raise ValueError("trim_right_ratio != 1.0 only makes sense for causal convolutions")
        if not 0.0 <= trim_right_ratio <= 1.0:
            raise ValueError(f"trim_right_ratio must be in [0, 1], got {trim_right_ratio}")
        convtr = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, bias=bias)
        self.convtr = apply_norm(convtr, norm)
        self.trim_right_ratio = trim_right_ratio
        self.overlap = total_padding(kernel_size, stride)
        self.left, self.right = transpose_trim(kernel_size, stride, causal, trim_right_ratio)

    def extra_repr(self) -> str:
        return f"causal={self.causal}, trim=({self.left}, {self.right})"

    def init_state(self, batch_size: int) -> ConvTransposeState:
        return ConvTransposeState(batch_size=batch_size, skip=self.left)

    def check_item_reset(self, state: ConvTransposeState) -> None:
        if state.skip != self.left:
            raise ValueError(
                f"cannot reset single batch items of {type(self).__name__}({self.geometry()}): "
                f"a fresh stream would drop its first {self.left} samples (trim_right_ratio="
                f"{self.trim_right_ratio}); use trim_right_ratio=1.0"
            )

    def _transpose(self, x: Tensor) -> Tensor:
        """The untrimmed, bias-free transposed conv ``[B, C_in, F] -> [B, C_out, (F-1)*s + k]``."""
        weight = self.convtr.weight
        if kernels_apply(x, weight):
            return conv_transpose1d_fold(x, weight, self.stride)
        return F.conv_transpose1d(x, weight, None, self.stride)

    def step(self, x: Tensor, state: ConvTransposeState) -> Tensor:
        n = x.shape[-1]
        # At the end, the last frame's overlap is emitted too, minus what the right trim removes.
        tail = self.overlap - self.right if state.final else 0
        if n > 0:
            y = self._transpose(x)
            if state.partial is not None:
                y[..., : self.overlap] += state.partial
            out = y[..., : n * self.stride + tail]
            state.partial = None if state.final else y[..., n * self.stride :]
        elif state.partial is not None and state.final:
            out, state.partial = state.partial[..., :tail], None
        else:
            out = x.new_zeros(x.shape[0], self.out_channels, 0)
        if state.skip > 0:
            dropped = min(state.skip, out.shape[-1])
            out, state.skip = out[..., dropped:], state.skip - dropped
        bias = self.convtr.bias
        # In place: `out` is a fresh tensor or a view of one that `state.partial` does not share.
        return out if bias is None else out.add_(bias[:, None])
