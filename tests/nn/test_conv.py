"""Streaming == offline, causality, EnCodec parity and per-item reset for the convolutions."""

from __future__ import annotations

import itertools

import pytest
import torch

from codec.nn.conv import StreamingConv1d, StreamingConvTranspose1d
from codec.nn.padding import effective_kernel_size, output_frames
from codec.nn.streaming import reset_streaming, streaming
from tests.nn.helpers import (
    assert_causal,
    assert_chunked_matches,
    assert_close,
    encodec_modules,
)

ATOL = 1e-5


def _chunk_sweeps(hop: int, seed: int = 0) -> list[list[int]]:
    """1 sample, primes, < hop, = hop, several frames, random sizes (zeros included)."""
    gen = torch.Generator().manual_seed(seed)
    rand = [int(v) for v in torch.randint(0, 3 * hop + 3, (16,), generator=gen)]
    sizes = [[1], [2], [3], [7], [max(hop - 1, 1)], [hop], [hop + 1], [3 * hop + 2], rand]
    return [s for i, s in enumerate(sizes) if s not in sizes[:i]]


# ---------------------------------------------------------------- Conv1d

CONV_CASES = [
    (k, s, d)
    for k, s, d in itertools.product([1, 3, 4, 7], [1, 2, 3], [1, 2])
    if effective_kernel_size(k, d) >= s
]


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize(("kernel", "stride", "dilation"), CONV_CASES)
def test_conv_streaming_equals_offline(
    kernel: int, stride: int, dilation: int, pad_mode: str
) -> None:
    torch.manual_seed(kernel * 100 + stride * 10 + dilation)
    conv = StreamingConv1d(2, 3, kernel, stride, dilation, causal=True, pad_mode=pad_mode)
    for length in (1, 2, 5, 29):
        x = torch.randn(2, 2, length)
        sweeps = _chunk_sweeps(stride, seed=length)
        ref = assert_chunked_matches(conv, x, sweeps, ATOL, f"T={length}")
        assert ref.shape == (2, 3, output_frames(length, stride))


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (4, 2), (10, 5)])
def test_conv_constant_emits_each_frame_as_soon_as_complete(kernel: int, stride: int) -> None:
    torch.manual_seed(0)
    conv = StreamingConv1d(1, 2, kernel, stride, causal=True, pad_mode="constant")
    x = torch.randn(1, 1, 6 * stride)
    with streaming(conv, 1):
        emitted = 0
        for t in range(x.shape[-1]):
            emitted += conv(x[..., t : t + 1]).shape[-1]
            assert emitted == (t + 1) // stride


def test_conv_reflect_start_up_delay_then_steady() -> None:
    torch.manual_seed(0)
    conv = StreamingConv1d(1, 1, 7, causal=True, pad_mode="reflect")  # left padding 6
    x = torch.randn(1, 1, 20)
    with streaming(conv, 1):
        counts = [conv(x[..., t : t + 1]).shape[-1] for t in range(20)]
    assert counts[:6] == [0] * 6  # waits for x[0..6]
    assert counts[6] == 7 and counts[7:] == [1] * 13


@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(7, 1, 1), (3, 1, 4), (8, 4, 1)])
def test_conv_causality(kernel: int, stride: int, dilation: int) -> None:
    torch.manual_seed(0)
    conv = StreamingConv1d(2, 2, kernel, stride, dilation, causal=True, pad_mode="constant")
    x = torch.randn(1, 2, 40)
    # Frames whose window ends before t0 are unchanged; the later ones do change.
    for clean, perturbed, past in assert_causal(conv, x, (1, 9, 24), lambda t0: t0 // stride):
        assert not torch.allclose(clean[..., past:], perturbed[..., past:])


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "replicate"])
def test_conv_matches_encodec(causal: bool, pad_mode: str) -> None:
    em = encodec_modules()
    torch.manual_seed(0)
    for kernel, stride, dilation in [(7, 1, 1), (3, 1, 2), (4, 2, 1), (10, 5, 1), (1, 1, 1)]:
        ref = em.SConv1d(2, 3, kernel, stride, dilation, causal=causal, pad_mode=pad_mode)
        ours = StreamingConv1d(2, 3, kernel, stride, dilation, causal=causal, pad_mode=pad_mode)
        ours.conv.load_state_dict(ref.conv.conv.state_dict())
        for length in (1, 2, 3, 8, 31):
            x = torch.randn(2, 2, length)
            assert_close(ours(x), ref(x), 1e-6)


@pytest.mark.parametrize(("kernel", "stride", "groups"), [(7, 1, 4), (3, 2, 2), (1, 1, 4)])
def test_grouped_conv_matches_torch_and_streams(kernel: int, stride: int, groups: int) -> None:
    """Grouped (e.g. depthwise) convs bypass the ungrouped fast kernels: offline equals torch's
    conv on the causally zero-padded input, and any chunking equals offline."""
    torch.manual_seed(kernel + groups)
    conv = StreamingConv1d(4, 4, kernel, stride, causal=True, pad_mode="constant", groups=groups)
    assert conv.conv.weight.shape == (4, 4 // groups, kernel)
    for length in (1, 5, 40, 200):  # 200: long enough for the unpadded offline form
        x = torch.randn(2, 4, length)
        extra = -length % stride
        ref = conv.conv(torch.nn.functional.pad(x, (kernel - stride, extra)))
        assert_close(conv(x), ref, 1e-6, f"T={length}")
        assert_chunked_matches(conv, x, _chunk_sweeps(stride, seed=length), ATOL, f"T={length}")


def test_conv_non_causal_refuses_streaming() -> None:
    conv = StreamingConv1d(1, 1, 3, causal=False)
    with pytest.raises(ValueError, match="non-causal model cannot stream"), streaming(conv, 1):
        pass


def test_conv_rejects_unknown_pad_mode() -> None:
    with pytest.raises(ValueError, match="pad_mode"):
        StreamingConv1d(1, 1, 3, pad_mode="circular")


# ---------------------------------------------------------------- ConvTranspose1d

TR_CASES = [(k, s) for k, s in itertools.product([1, 2, 4, 5, 7], [1, 2, 3]) if k >= s]


@pytest.mark.parametrize("trim_right_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize(("kernel", "stride"), TR_CASES)
def test_convtr_streaming_equals_offline(kernel: int, stride: int, trim_right_ratio: float) -> None:
    torch.manual_seed(kernel * 10 + stride)
    convtr = StreamingConvTranspose1d(
        3, 2, kernel, stride, causal=True, trim_right_ratio=trim_right_ratio
    )
    for frames in (1, 2, 11):
        x = torch.randn(2, 3, frames)
        sweeps = _chunk_sweeps(2, seed=frames)
        ref = assert_chunked_matches(convtr, x, sweeps, ATOL, f"F={frames}")
        assert ref.shape == (2, 2, frames * stride)


def test_convtr_causality_and_latency() -> None:
    torch.manual_seed(0)
    convtr = StreamingConvTranspose1d(2, 2, 8, 4, causal=True)
    x = torch.randn(1, 2, 10)
    with streaming(convtr, 1):  # trim_right_ratio=1: each frame yields `stride` samples at once
        assert all(convtr(x[..., f : f + 1]).shape[-1] == 4 for f in range(10))
    assert_causal(convtr, x, (1, 5), lambda f0: f0 * 4)


@pytest.mark.parametrize(("causal", "trim"), [(True, 1.0), (True, 0.5), (False, 1.0)])
def test_convtr_matches_encodec(causal: bool, trim: float) -> None:
    em = encodec_modules()
    torch.manual_seed(0)
    for kernel, stride in [(4, 2), (10, 5), (3, 1), (16, 8)]:
        ref = em.SConvTranspose1d(3, 2, kernel, stride, causal=causal, trim_right_ratio=trim)
        ours = StreamingConvTranspose1d(3, 2, kernel, stride, causal=causal, trim_right_ratio=trim)
        ours.convtr.load_state_dict(ref.convtr.convtr.state_dict())
        for frames in (1, 2, 9):
            x = torch.randn(2, 3, frames)
            assert_close(ours(x), ref(x), 1e-6)


def test_convtr_argument_checks() -> None:
    with pytest.raises(ValueError, match="only makes sense for causal"):
        StreamingConvTranspose1d(1, 1, 4, 2, causal=False, trim_right_ratio=0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StreamingConvTranspose1d(1, 1, 4, 2, causal=True, trim_right_ratio=1.5)
    convtr = StreamingConvTranspose1d(1, 1, 4, 2)
    with pytest.raises(ValueError, match="non-causal model cannot stream"), streaming(convtr, 1):
        pass


# ---------------------------------------------------------------- per-item reset


def _reset_item0_at(
    model: StreamingConv1d | StreamingConvTranspose1d, x: torch.Tensor, at: int
) -> torch.Tensor:
    """Stream ``x`` [2, C, T], resetting item 0 after ``at`` inputs; the outputs after it."""
    with streaming(model, 2):
        model(x[..., :at])
        reset_streaming(model, torch.tensor([True, False]))
        return torch.cat([model(x[..., at:]), model.flush()], dim=-1)


@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(3, 1, 2), (4, 2, 1), (1, 1, 1)])
def test_conv_reset_one_item(kernel: int, stride: int, dilation: int) -> None:
    torch.manual_seed(0)
    conv = StreamingConv1d(2, 3, kernel, stride, dilation, causal=True, pad_mode="constant")
    x = torch.randn(2, 2, 23)
    got = _reset_item0_at(conv, x, 6)
    assert_close(got[:1], conv(x[:1, :, 6:]), 1e-6)
    assert_close(got[1:], conv(x[1:])[..., 6 // stride :], 1e-6)


def test_conv_reset_one_item_refused_when_inexact() -> None:
    conv = StreamingConv1d(1, 1, 4, 2, causal=True, pad_mode="constant")
    with pytest.raises(ValueError, match="multiple of the stride"):
        _reset_item0_at(conv, torch.randn(2, 1, 9), 3)
    conv = StreamingConv1d(1, 1, 3, causal=True, pad_mode="reflect")
    with pytest.raises(ValueError, match="pad_mode='reflect'"):
        _reset_item0_at(conv, torch.randn(2, 1, 9), 4)


def test_convtr_reset_one_item() -> None:
    torch.manual_seed(0)
    convtr = StreamingConvTranspose1d(2, 2, 8, 4, causal=True)
    x = torch.randn(2, 2, 9)
    got = _reset_item0_at(convtr, x, 4)
    assert_close(got[:1], convtr(x[:1, :, 4:]), 1e-6)
    assert_close(got[1:], convtr(x[1:])[..., 16:], 1e-6)
    trimmed = StreamingConvTranspose1d(2, 2, 8, 4, causal=True, trim_right_ratio=0.5)
    with pytest.raises(ValueError, match="first 2 samples"):
        _reset_item0_at(trimmed, x, 4)
