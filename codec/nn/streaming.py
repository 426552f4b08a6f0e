"""Streaming machinery: typed per-layer state, the ``streaming()`` context and ``FrameBuffer``.

Every stateful layer is a ``StreamingModule[StateT]``. Its ``step(x, state)`` is the only code
path: offline ``forward(x)`` builds a fresh state marked ``final`` and runs ``step`` once, so
offline is "streaming with empty history, flushed at once" and the two cannot drift.

Typical use::

    with streaming(model, batch_size=1):    # or model.streaming(1) on a StreamingContainer
        outs = [model(chunk) for chunk in chunks]   # chunks of any length, possibly empty
        outs.append(flush(model, last_chunk))       # pads every layer's tail as offline would
    y = torch.cat(outs, dim=-1)                     # == model(torch.cat(chunks, -1))

``flush`` marks every state in the tree ``final``, runs one last forward, then installs fresh
states so that the same context can carry the next stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn

__all__ = [
    "FrameBuffer",
    "State",
    "StreamingContainer",
    "StreamingModule",
    "flush",
    "is_streaming",
    "reset_streaming",
    "run_chunked",
    "split_frames",
    "streaming",
    "streaming_modules",
    "zero_rows",
]


@dataclass
class State:
    """Base of every layer's streaming state.

    ``final`` is set by ``flush()``: the call that sees it carries the layer's last input, so
    the layer pads its tail (from the total length it has seen) and emits everything left.
    """

    batch_size: int
    final: bool = False

    def reset_items(self, mask: Tensor) -> None:
        """Make the items where ``mask`` [B] is True start a fresh stream (zero their rows).

        Callers check first (``StreamingModule.check_item_reset``) that this is exact; the
        base class has no per-item history and refuses.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot reset single batch items")


def zero_rows(x: Tensor, mask: Tensor, dim: int = 0) -> Tensor:
    """Copy of ``x`` with the slices ``x[..., i, ...]`` (batch axis ``dim``) zeroed where
    ``mask`` [B] is True; out of place, since states hold views shared with outputs."""
    shape = [1] * x.dim()
    shape[dim] = -1
    return x.masked_fill(mask.to(x.device).view(shape), 0.0)


StateT = TypeVar("StateT", bound=State)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


class StreamingContainer(nn.Module):
    """An ``nn.Module`` tree that can be put in streaming mode as a whole.

    Subclasses set ``input_channels`` so that ``flush()`` can build an empty last chunk.
    """

    input_channels: int = 0

    def streaming(self: ModuleT, batch_size: int) -> AbstractContextManager[ModuleT]:
        """Context manager installing fresh streaming state in the whole tree (yields self)."""
        return streaming(self, batch_size)

    @property
    def is_streaming(self) -> bool:
        return is_streaming(self)

    def reset_streaming(self, mask: Tensor | None = None) -> None:
        """Forget the current stream (of the items where ``mask`` [B] is True, if given),
        staying in streaming mode; see :func:`reset_streaming`."""
        reset_streaming(self, mask)

    def flush(self, x: Tensor | None = None) -> Tensor:
        """End the stream: process the last chunk ``x`` (default: empty) and emit the tail.

        Returns the remaining outputs; afterwards the tree holds fresh state for a new stream.
        """
        if x is None:
            x = self._empty_chunk()
        return flush(self, x)

    def _empty_chunk(self) -> Tensor:
        states = [m.streaming_state for m in streaming_modules(self)]
        active = [s for s in states if s is not None]
        if not active:
            raise RuntimeError("flush() called outside a streaming() context")
        param = next(self.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        return torch.zeros(active[0].batch_size, self.input_channels, 0, device=device, dtype=dtype)


class StreamingModule(StreamingContainer, Generic[StateT]):
    """A layer whose history lives in a typed state dataclass ``StateT``.

    Subclasses implement ``init_state`` (a fresh, empty state) and ``step`` (process one chunk
    ``[B, C, n]`` with ``n >= 0``, updating the state, returning the outputs now complete).
    ``check_streamable`` raises ``ValueError`` when the layer cannot run chunk by chunk.
    """

    def __init__(self) -> None:
        super().__init__()
        self._streaming_state: StateT | None = None

    @property
    def streaming_state(self) -> StateT | None:
        return self._streaming_state

    def init_state(self, batch_size: int) -> StateT:
        raise NotImplementedError

    def step(self, x: Tensor, state: StateT) -> Tensor:
        raise NotImplementedError

    def check_streamable(self) -> None:
        """Raise ``ValueError`` if this layer cannot stream (default: it can)."""

    def check_item_reset(self, state: StateT) -> None:
        """Raise ``ValueError`` if ``state.reset_items`` would not give the reset items exactly a
        fresh stream now (default: it would)."""

    def forward(self, x: Tensor) -> Tensor:
        state = self._streaming_state
        if state is None:
            # Offline: the same code as streaming, with empty history and an immediate flush.
            state = self.init_state(x.shape[0])
            state.final = True
        elif x.shape[0] != state.batch_size:
            raise ValueError(
                f"{type(self).__name__}: streaming state was opened for batch size "
                f"{state.batch_size}, got a chunk of shape {tuple(x.shape)}"
            )
        return self.step(x, state)


def streaming_modules(module: nn.Module) -> Iterator[StreamingModule[Any]]:
    """All ``StreamingModule`` instances in ``module``'s tree (itself included)."""
    for m in module.modules():
        if isinstance(m, StreamingModule):
            yield m


def is_streaming(module: nn.Module) -> bool:
    return any(m.streaming_state is not None for m in streaming_modules(module))


@contextmanager
def streaming(module: ModuleT, batch_size: int) -> Iterator[ModuleT]:
    """Put every streaming layer of ``module`` in streaming mode; clear the state on exit.

    Raises ``ValueError`` (before touching any state) if some layer cannot stream, and
    ``RuntimeError`` if the tree is already streaming.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    layers = list(streaming_modules(module))
    for m in layers:
        m.check_streamable()
    if any(m.streaming_state is not None for m in layers):
        raise RuntimeError(f"{type(module).__name__} is already in a streaming() context")
    try:
        for m in layers:
            m._streaming_state = m.init_state(batch_size)
        yield module
    finally:
        for m in layers:
            m._streaming_state = None


def reset_streaming(module: nn.Module, mask: Tensor | None = None) -> None:
    """Forget the current stream: every active state is replaced by a fresh one.

    With ``mask`` [B] (bool), only the items where it is True start a fresh stream (their
    following outputs equal a new single stream's) and the others carry on, e.g. a server
    running many streams in one batch. This is exact, and allowed, only at a frame boundary
    (a multiple of every conv's stride: of the hop length for a whole encoder), with zero
    padding (``pad_mode="constant"``) and no left trim in transposed convs; otherwise a
    ``ValueError`` is raised before any state changes.
    """
    layers = [(m, m.streaming_state) for m in streaming_modules(module)]
    active = [(m, state) for m, state in layers if state is not None]
    if mask is None:
        for m, state in active:
            m._streaming_state = m.init_state(state.batch_size)
        return
    for m, state in active:
        if mask.dtype != torch.bool or tuple(mask.shape) != (state.batch_size,):
            raise ValueError(
                f"reset mask must be bool [{state.batch_size}] (the streaming batch size), got "
                f"{mask.dtype} {tuple(mask.shape)}"
            )
        m.check_item_reset(state)
    for _, state in active:
        state.reset_items(mask)


def flush(module: nn.Module, x: Tensor) -> Tensor:
    """Feed the last chunk ``x`` to ``module`` with every layer told it is the end of stream.

    Each layer pads its tail exactly as offline would and emits what is left. The tree then
    holds fresh state, ready for another stream inside the same ``streaming()`` context.
    """
    layers = [m for m in streaming_modules(module) if m.streaming_state is not None]
    if not layers:
        raise RuntimeError("flush() called outside a streaming() context")
    for m in layers:
        state = m.streaming_state
        assert state is not None
        state.final = True
    try:
        out: Tensor = module(x)
    finally:
        reset_streaming(module)
    return out


def run_chunked(
    module: nn.Module, x: Tensor, chunk_sizes: int | Iterable[int], flush_with: int = 0
) -> Tensor:
    """Stream ``x`` [B, C, T] through ``module`` in chunks, flush, and concatenate the outputs.

    ``chunk_sizes`` is a size or a sequence of sizes (cycled; zeros allowed). The last
    ``flush_with`` samples travel with the flush call instead of a separate chunk. The result
    equals ``module(x)`` for any chunking (causal models).
    """
    sizes = [chunk_sizes] if isinstance(chunk_sizes, int) else list(chunk_sizes)
    if not sizes or any(n < 0 for n in sizes) or not any(sizes):
        raise ValueError(f"chunk sizes must be >= 0 with at least one > 0, got {sizes}")
    body = x.shape[-1] - flush_with
    outs: list[Tensor] = []
    with streaming(module, x.shape[0]):
        start, i = 0, 0
        while start < body:
            end = min(start + sizes[i % len(sizes)], body)
            outs.append(module(x[..., start:end]))
            start, i = end, i + 1
        outs.append(flush(module, x[..., body:]))
    return torch.cat(outs, dim=-1)


def split_frames(pending: Tensor | None, x: Tensor, frame_size: int) -> tuple[Tensor, Tensor]:
    """Append ``x`` [B, C, n] to ``pending`` and split into (whole frames, remainder).

    Whole frames are ``[B, C, k * frame_size]``; the remainder ``[B, C, r]`` has ``r < frame_size``.
    """
    if frame_size < 1:
        raise ValueError(f"frame_size must be >= 1, got {frame_size}")
    if x.dim() != 3:
        raise ValueError(f"expected a chunk [B, C, n], got shape {tuple(x.shape)}")
    data = x if pending is None else torch.cat([pending, x], dim=-1)
    whole = (data.shape[-1] // frame_size) * frame_size
    return data[..., :whole], data[..., whole:]


class FrameBuffer:
    """Accepts pcm chunks of any length ``[B, C, n]`` and releases whole frames.

    ``push`` returns ``[B, C, k * frame_size]`` (``k`` may be 0) and keeps the remainder;
    ``flush`` returns the remainder (fewer than ``frame_size`` samples) and empties the buffer.
    """

    def __init__(self, frame_size: int) -> None:
        if frame_size < 1:
            raise ValueError(f"frame_size must be >= 1, got {frame_size}")
        self.frame_size = frame_size
        self._pending: Tensor | None = None

    @property
    def pending(self) -> int:
        """Samples held back, waiting for a whole frame."""
        return 0 if self._pending is None else self._pending.shape[-1]

    def push(self, x: Tensor) -> Tensor:
        if self._pending is not None and x.shape[:-1] != self._pending.shape[:-1]:
            raise ValueError(
                f"chunk shape {tuple(x.shape)} does not match earlier chunks "
                f"{tuple(self._pending.shape[:-1])} + [n]"
            )
        whole, self._pending = split_frames(self._pending, x, self.frame_size)
        return whole

    def flush(self) -> Tensor | None:
        """The remainder ``[B, C, r]`` (``None`` if nothing was ever pushed); resets the buffer."""
        rest, self._pending = self._pending, None
        return rest
