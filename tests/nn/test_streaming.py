"""The streaming machinery: context, flush, reset, errors, FrameBuffer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.nn import StreamingConv1d, StreamingLSTM
from codec.nn.streaming import (
    FrameBuffer,
    State,
    flush,
    is_streaming,
    reset_streaming,
    run_chunked,
    split_frames,
    streaming,
    streaming_modules,
    zero_rows,
)
from tests.nn.helpers import assert_close


def _stack(causal: bool = True) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        StreamingConv1d(2, 3, 4, stride=2, causal=causal, pad_mode="constant"),
        nn.ELU(),
        StreamingLSTM(3, num_layers=1),
        StreamingConv1d(3, 2, 3, causal=causal, pad_mode="reflect"),
    )


def test_context_installs_and_clears_state() -> None:
    model = _stack()
    assert not is_streaming(model)
    with streaming(model, batch_size=2) as m:
        assert m is model
        assert is_streaming(model)
        assert all(layer.streaming_state is not None for layer in streaming_modules(model))
        assert all(layer.streaming_state.batch_size == 2 for layer in streaming_modules(model))
    assert not is_streaming(model)


def test_state_cleared_even_on_error() -> None:
    model = _stack()
    with pytest.raises(ZeroDivisionError), streaming(model, 1):
        _ = 1 / 0
    assert not is_streaming(model)


def test_nested_streaming_refused() -> None:
    model = _stack()
    with streaming(model, 1), pytest.raises(RuntimeError, match="already"), streaming(model, 1):
        pass


def test_batch_size_mismatch_is_a_clear_error() -> None:
    model = _stack()
    with streaming(model, 2), pytest.raises(ValueError, match="batch size 2"):
        model(torch.randn(3, 2, 8))


def test_flush_outside_context_refused() -> None:
    model = _stack()
    with pytest.raises(RuntimeError, match="outside"):
        flush(model, torch.zeros(1, 2, 0))
    with pytest.raises(RuntimeError, match="outside"):
        model[0].flush()


def test_non_causal_streaming_refused_before_any_state() -> None:
    model = _stack(causal=False)
    with pytest.raises(ValueError, match="non-causal model cannot stream"), streaming(model, 1):
        pass
    assert not is_streaming(model)


def test_flush_resets_for_a_second_stream() -> None:
    model = _stack()
    x = torch.randn(1, 2, 23)
    ref = model(x)
    with streaming(model, 1):
        for _ in range(2):  # two streams in one context give the same result
            out = torch.cat([model(x[..., :10]), flush(model, x[..., 10:])], dim=-1)
            assert_close(out, ref, 1e-5)


def test_reset_streaming_forgets_history() -> None:
    model = _stack()
    x = torch.randn(1, 2, 16)
    with streaming(model, 1):
        model(torch.randn(1, 2, 7))
        reset_streaming(model)
        out = torch.cat([model(x), flush(model, x[..., :0])], dim=-1)
    assert_close(out, model(x), 1e-5)


def test_container_methods() -> None:
    conv = StreamingConv1d(2, 2, 3, causal=True, pad_mode="constant")
    x = torch.randn(1, 2, 9)
    with conv.streaming(1) as c:
        assert c.is_streaming
        out = torch.cat([c(x), c.flush()], dim=-1)
    assert_close(out, conv(x), 1e-6)


@pytest.mark.parametrize("sizes", [1, 3, [0, 5, 2], [100]])
def test_run_chunked_matches_offline(sizes: int | list[int]) -> None:
    model = _stack()
    x = torch.randn(2, 2, 31)
    assert_close(run_chunked(model, x, sizes), model(x), 1e-5)
    got = run_chunked(model, x, sizes, flush_with=4)
    assert_close(got, model(x), 1e-5)


def test_run_chunked_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        run_chunked(_stack(), torch.randn(1, 2, 4), [0])


def test_split_frames() -> None:
    x = torch.arange(7.0).view(1, 1, 7)
    whole, rest = split_frames(None, x, 3)
    assert whole.shape[-1] == 6 and rest.shape[-1] == 1
    whole, rest = split_frames(rest, x[..., :2], 3)
    assert_close(whole, torch.tensor([[[6.0, 0.0, 1.0]]]))
    assert rest.shape[-1] == 0
    with pytest.raises(ValueError):
        split_frames(None, torch.zeros(3), 2)


def test_frame_buffer_any_chunking() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 101, generator=gen)
    buf = FrameBuffer(8)
    outs, start = [], 0
    while start < x.shape[-1]:
        n = int(torch.randint(0, 20, (1,), generator=gen))
        out = buf.push(x[..., start : start + n])
        assert out.shape[-1] % 8 == 0 and buf.pending < 8
        outs.append(out)
        start += n
    rest = buf.flush()
    assert rest is not None and rest.shape[-1] == 101 % 8
    assert_close(torch.cat([*outs, rest], dim=-1), x)
    assert buf.pending == 0 and buf.flush() is None


def test_frame_buffer_errors() -> None:
    with pytest.raises(ValueError):
        FrameBuffer(0)
    buf = FrameBuffer(4)
    buf.push(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="does not match"):
        buf.push(torch.zeros(1, 3, 3))


def test_reset_items_checks_the_mask() -> None:
    model = nn.Sequential(StreamingLSTM(2, num_layers=1))
    with streaming(model, 2):
        for bad in (torch.tensor([1, 0]), torch.tensor([True]), torch.ones(2, 1, dtype=torch.bool)):
            with pytest.raises(ValueError, match=r"bool \[2\]"):
                reset_streaming(model, bad)


def test_base_state_refuses_item_reset() -> None:
    with pytest.raises(NotImplementedError, match="State cannot reset single batch items"):
        State(batch_size=2).reset_items(torch.tensor([True, False]))


def test_zero_rows() -> None:
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([False, True, True])
    got = zero_rows(x, mask, dim=1)
    assert_close(got.sum(dim=(0, 2)), torch.tensor([8.0, 0.0, 0.0]))
    assert x.sum() == 24  # out of place
