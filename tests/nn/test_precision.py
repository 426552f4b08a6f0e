"""Every layer under CPU bf16 autocast (``trainer.precision=bf16-mixed``): it runs, gives the
float32 result within bf16 rounding, passes gradients; float32 keeps the fast kernels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from codec.nn import conv as conv_module
from codec.nn.conv import StreamingConv1d, StreamingConvTranspose1d
from codec.nn.lstm import StreamingLSTM
from codec.nn.streaming import run_chunked

KERNELS = ["padded_conv1d", "conv1d_unpadded", "pointwise_conv1d", "conv_transpose1d_fold"]


def bf16() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def assert_bf16_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """bf16 keeps 8 bits of mantissa: a few parts in a thousand per rounding, a few roundings."""
    assert got.shape == want.shape
    err = (got.float() - want.float()).abs().max().item()
    scale = want.abs().max().item()
    assert err <= 0.03 * scale + 1e-3, f"max abs error {err:.3g} (scale {scale:.3g})"


@dataclass
class Calls:
    """Names of the fast kernels that ran."""

    names: list[str] = field(default_factory=list)


@contextmanager
def recorded_kernels(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    calls = Calls()

    def spy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.names.append(name)
            return fn(*args, **kwargs)

        return wrapper

    for name in KERNELS:
        monkeypatch.setattr(conv_module, name, spy(name, getattr(conv_module, name)))
    yield calls


def layers(causal: bool = False) -> list[tuple[str, nn.Module, int]]:
    """``(label, layer, input channels)``: each dispatch of ``codec.nn.conv``."""
    torch.manual_seed(0)
    return [
        ("conv k7 reflect", StreamingConv1d(3, 4, 7, causal=causal, pad_mode="reflect"), 3),
        ("conv strided", StreamingConv1d(3, 4, 4, 2, causal=True, pad_mode="constant"), 3),
        ("conv dilated wn", StreamingConv1d(3, 4, 3, 1, 3, causal=causal, norm="weight_norm"), 3),
        ("conv 1x1", StreamingConv1d(3, 4, 1, causal=causal), 3),
        ("transposed", StreamingConvTranspose1d(4, 3, 8, 4, causal=causal), 4),
        ("lstm", StreamingLSTM(4, num_layers=2), 4),
    ]


@pytest.mark.parametrize("index", range(len(layers())), ids=[c[0] for c in layers()])
def test_layer_under_bf16_autocast(index: int) -> None:
    _, layer, channels = layers()[index]
    x = torch.randn(2, channels, 200)
    want = layer(x)
    xg = x.clone().requires_grad_(True)
    with bf16():
        got = layer(xg)
    assert_bf16_close(got, want)
    got.float().square().sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0
    grads = [p.grad for p in layer.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("index", range(len(layers())), ids=[c[0] for c in layers()])
def test_layer_streams_under_bf16_autocast(index: int) -> None:
    """Streaming chunks (the few-frame im2col and overlap-add paths in float32)."""
    _, layer, channels = layers(causal=True)[index]
    x = torch.randn(2, channels, 50)
    want = run_chunked(layer, x, [3])
    with torch.no_grad(), bf16():
        got = run_chunked(layer, x, [3])
    assert_bf16_close(got, want)


def test_residual_sum_into_float32_shortcut_under_autocast() -> None:
    """SEANet's residual block adds its last 1x1 conv into the shortcut in place: under autocast
    the conv's input is bf16 and the shortcut float32 (this crashed ``bf16-mixed`` training)."""
    torch.manual_seed(0)
    conv = StreamingConv1d(4, 3, 1)
    x, skip = torch.randn(2, 4, 30), torch.randn(2, 3, 30)
    want = conv.pointwise_forward(x, skip.clone(), inplace=True)
    with bf16():
        got = conv.pointwise_forward(x.bfloat16(), skip.clone(), inplace=True)
    assert_bf16_close(got, want)


@pytest.mark.parametrize("index", range(len(layers()) - 1), ids=[c[0] for c in layers()[:-1]])
def test_float32_uses_the_kernels_and_autocast_does_not(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, layer, channels = layers()[index]
    x = torch.randn(2, channels, 200)
    with recorded_kernels(monkeypatch) as calls:
        layer(x)
        assert calls.names, "CPU float32 must take the measured fast kernels"
        calls.names.clear()
        with bf16():
            layer(x)
        layer.double()(x.double())
        assert calls.names == [], "autocast / float64 must take torch's reference ops"


def test_lstm_precision_does_not_depend_on_chunk_length() -> None:
    """Under autocast the short-chunk oneDNN bypass would run the LSTM in float32 and long
    chunks in bf16: the bypass applies to CPU float32 only."""
    torch.manual_seed(0)
    lstm = StreamingLSTM(4, num_layers=1)
    dtypes: list[torch.dtype] = []
    lstm.lstm.register_forward_hook(lambda _m, _i, out: dtypes.append(out[0].dtype))
    with torch.no_grad(), bf16():
        lstm(torch.randn(1, 4, 3))
        lstm(torch.randn(1, 4, 100))
    assert dtypes[0] == dtypes[1], dtypes


def test_grouped_conv_takes_torch_ops_in_every_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast kernels know only ungrouped convs: a depthwise conv (Vocos's ConvNeXt blocks)
    must never reach them, offline or streaming, and must run under bf16 autocast."""
    torch.manual_seed(0)
    conv = StreamingConv1d(4, 4, 7, causal=True, pad_mode="constant", groups=4)
    x = torch.randn(2, 4, 200)
    with recorded_kernels(monkeypatch) as calls:
        want = conv(x)
        streamed = run_chunked(conv, x, [3])
        with bf16():
            got = conv(x)
    assert calls.names == []
    assert torch.allclose(streamed, want, atol=1e-6)
    assert_bf16_close(got, want)
