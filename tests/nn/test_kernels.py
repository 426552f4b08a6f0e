"""The fast convolution forms equal torch's reference ops (values, shapes, gradients)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from codec.nn import kernels
from codec.nn.kernels import (
    FEW_FRAMES,
    FEW_FRAMES_TRANSPOSED,
    conv1d_unpadded,
    conv1d_zero_padded,
    conv_transpose1d_fold,
    framewise_conv1d,
    framewise_linear,
    padded_conv1d,
    pointwise_conv1d,
)


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 1e-5) -> None:
    assert got.shape == want.shape, f"shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() if got.numel() else 0.0
    assert err <= atol, f"max abs error {err:.3g} > {atol}"


def _weights(c_out: int, c_in: int, kernel: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    scale = (c_in * kernel) ** -0.5
    w = torch.randn(c_out, c_in, kernel, generator=gen) * scale
    return w, torch.randn(c_out, generator=gen)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("with_bias", [True, False])
def test_pointwise_equals_conv(batch: int, with_bias: bool) -> None:
    w, b = _weights(5, 4, 1, seed=batch)
    bias = b if with_bias else None
    x = torch.randn(batch, 4, 37)
    want = F.conv1d(x, w, bias)
    assert_close(pointwise_conv1d(x, w, bias), want)
    acc = torch.randn(batch, 5, 37)
    assert_close(pointwise_conv1d(x, w, bias, acc), acc + want)
    target = acc.clone()
    out = pointwise_conv1d(x, w, bias, target, inplace=True)
    assert out is target
    assert_close(out, acc + want)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize(("kernel", "stride"), [(4, 2), (16, 8), (10, 5), (3, 2), (5, 1), (2, 2)])
@pytest.mark.parametrize("frames", [1, 2, 7, 40, 100])
def test_conv_transpose_equals_torch(batch: int, kernel: int, stride: int, frames: int) -> None:
    """Both GEMM layouts (few / many frames), both overlap-adds (stride | K: shifted
    additions; otherwise F.fold)."""
    gen = torch.Generator().manual_seed(kernel * 100 + stride * 10 + frames)
    weight = torch.randn(6, 3, kernel, generator=gen)
    x = torch.randn(batch, 6, frames, generator=gen)
    assert_close(
        conv_transpose1d_fold(x, weight, stride), F.conv_transpose1d(x, weight, None, stride)
    )


@pytest.mark.parametrize("frames", [9, 3 * FEW_FRAMES_TRANSPOSED + 5])
def test_conv_transpose_gradients_match(frames: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time-major (few frames) and blocked channel-major (many frames) paths."""
    monkeypatch.setattr(kernels, "BLOCK_FLOATS", 1)
    weight = torch.randn(4, 3, 8, requires_grad=True)
    x = torch.randn(2, 4, frames, requires_grad=True)
    grad = torch.randn(2, 3, (frames - 1) * 4 + 8)
    ours = torch.autograd.grad((conv_transpose1d_fold(x, weight, 4) * grad).sum(), (x, weight))
    ref = torch.autograd.grad((F.conv_transpose1d(x, weight, None, 4) * grad).sum(), (x, weight))
    for g, r in zip(ours, ref, strict=True):
        assert_close(g, r, 1e-4)


def test_padded_conv_gradients_match() -> None:
    weight = torch.randn(3, 2, 4, requires_grad=True)
    x = torch.randn(2, 2, 120, requires_grad=True)
    ours_out = padded_conv1d(x, weight, None, 2, 1, (2, 1), "reflect")
    assert ours_out is not None
    ref_out = F.conv1d(F.pad(x, (2, 1), mode="reflect"), weight, None, 2)
    grad = torch.randn_like(ref_out)
    ours = torch.autograd.grad((ours_out * grad).sum(), (x, weight))
    ref = torch.autograd.grad((ref_out * grad).sum(), (x, weight))
    for g, r in zip(ours, ref, strict=True):
        assert_close(g, r, 1e-4)


# (C_out, C_in, K, stride, dilation): the thin waveform layers (shift-sum, im2col) and the rest.
CONV_SHAPES = [
    (1, 32, 7, 1, 1),
    (32, 1, 7, 1, 1),
    (2, 8, 3, 1, 3),
    (6, 4, 3, 1, 1),
    (8, 4, 4, 2, 1),
]


@pytest.mark.parametrize(("c_out", "c_in", "kernel", "stride", "dilation"), CONV_SHAPES)
@pytest.mark.parametrize("padding", [0, 3])
def test_conv_zero_padded_equals_torch(
    c_out: int, c_in: int, kernel: int, stride: int, dilation: int, padding: int
) -> None:
    w, b = _weights(c_out, c_in, kernel, seed=c_out + c_in)
    for batch, bias in itertools.product((1, 2), (b, None)):
        x = torch.randn(batch, c_in, 61)
        want = F.conv1d(x, w, bias, stride, padding, dilation)
        assert_close(conv1d_zero_padded(x, w, bias, stride, padding, dilation), want)


@pytest.mark.parametrize(("c_out", "c_in", "kernel", "stride", "dilation"), CONV_SHAPES)
def test_conv_unpadded_few_and_many_frames(
    c_out: int, c_in: int, kernel: int, stride: int, dilation: int
) -> None:
    """im2col for a streaming chunk's few frames, the general kernel beyond FEW_FRAMES."""
    w, b = _weights(c_out, c_in, kernel, seed=7)
    k_eff = (kernel - 1) * dilation + 1
    for frames, batch in itertools.product((1, 3, FEW_FRAMES, FEW_FRAMES + 1, 50), (1, 2)):
        x = torch.randn(batch, c_in, (frames - 1) * stride + k_eff + stride - 1)
        want = F.conv1d(x, w, b, stride, 0, dilation)
        assert want.shape[-1] == frames
        assert_close(conv1d_unpadded(x, w, b, stride, dilation), want)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "left", "right"),
    [
        (3, 1, 1, 2, 0),  # causal residual conv
        (3, 1, 9, 18, 0),  # causal, dilated
        (7, 1, 1, 6, 0),  # causal in / out conv
        (4, 2, 1, 2, 1),  # causal strided + extra right padding
        (16, 8, 1, 8, 5),
        (3, 1, 3, 3, 3),  # non-causal split
        (10, 5, 1, 3, 2),
        (10, 5, 1, 2, 7),  # right wider than left
        (1, 1, 1, 0, 0),
    ],
)
def test_padded_conv_equals_pad_then_conv(
    mode: str, kernel: int, stride: int, dilation: int, left: int, right: int
) -> None:
    w, b = _weights(3, 2, kernel, seed=kernel + left)
    for batch, length in itertools.product((1, 2), (200, 333)):
        x = torch.randn(batch, 2, length)
        want = F.conv1d(F.pad(x, (left, right), mode=mode), w, b, stride, 0, dilation)
        got = padded_conv1d(x, w, b, stride, dilation, (left, right), mode)
        assert got is not None
        assert_close(got, want)


def test_padded_conv_declines_short_inputs() -> None:
    w, b = _weights(3, 2, 7, seed=0)
    assert padded_conv1d(torch.randn(1, 2, 20), w, b, 1, 1, (6, 0), "reflect") is None


@pytest.mark.parametrize("batch", [1, 2])
def test_conv_transpose_in_blocks(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long inputs run in blocks of frames whose overlaps meet across block edges."""
    monkeypatch.setattr(kernels, "BLOCK_FLOATS", 1)  # blocks of FEW_FRAMES_TRANSPOSED frames
    weight = torch.randn(5, 3, 8)
    x = torch.randn(batch, 5, 4 * kernels.FEW_FRAMES_TRANSPOSED + 7)
    assert_close(conv_transpose1d_fold(x, weight, 4), F.conv_transpose1d(x, weight, None, 4))


@torch.inference_mode()
def test_framewise_linear_gives_each_row_the_same_bits_wherever_it_sits() -> None:
    """A row alone, at every place of a tile and among thousands: the same bits (a plain GEMM
    takes another path below about 7 rows), and the values of ``F.linear`` / ``addmm``."""
    torch.manual_seed(0)
    w, b = torch.randn(96, 64) / 8, torch.randn(96)
    row = torch.randn(1, 64)
    want = framewise_linear(row, w, b)[0]
    assert_close(want, F.linear(row, w, b)[0])
    for rows in (2, 3, kernels.ROW_TILE - 1, kernels.ROW_TILE + 5, 3000):
        for place in (0, rows // 2, rows - 1):
            x = torch.randn(rows, 64)
            x[place] = row[0]
            assert torch.equal(framewise_linear(x, w, b)[place], want), (rows, place)
    x = torch.randn(2, 7, 64)  # leading dims are frames too; scale as in the codebook search
    got = framewise_linear(x, w, b, scale=-2.0)
    assert_close(got, torch.addmm(b, x.reshape(14, 64), w.t(), alpha=-2.0).view(2, 7, 96))


@pytest.mark.parametrize("groups", [1, 8])
@torch.inference_mode()
def test_framewise_conv1d_is_the_same_in_a_batch_and_in_chunks(groups: int) -> None:
    """Batch of 3 vs one item, whole vs windows of 1 and 2 frames: the same bits; ``F.conv1d``'s
    values (``groups=8`` is depthwise, summed tap by tap). (MKL treats the rows of a tile alike
    for the widths we use; at 6 output channels it does not, which no layer of ours has.)"""
    w, b = _weights(8, 8 // groups, 5, seed=groups)
    x = torch.randn(3, 8, 40)
    y = framewise_conv1d(x, w, b, 1, 2, groups)
    assert_close(y, F.conv1d(x, w, b, 1, 0, 2, groups))
    assert torch.equal(framewise_conv1d(x[1:2], w, b, 1, 2, groups), y[1:2])
    for n in (1, 2):  # a streaming chunk: the window of n frames (k_eff = 9)
        for t in range(0, y.shape[-1] - n + 1, 5):
            part = framewise_conv1d(x[:1, :, t : t + n + 8], w, b, 1, 2, groups)
            assert torch.equal(part, y[:1, :, t : t + n])


def test_framewise_forms_are_plain_outside_cpu_float32_inference() -> None:
    """Under autograd (training) the GEMM is one untiled ``F.linear``, with gradients."""
    w, b = _weights(4, 3, 3, seed=1)
    x = torch.randn(2, 3, 10, requires_grad=True)
    y = framewise_conv1d(x, w, b, 1, 1, 1)
    assert_close(y, F.conv1d(x, w, b))
    y.sum().backward()
    assert x.grad is not None
    rows = torch.randn(40, 12)
    assert torch.equal(
        framewise_linear(rows, w.reshape(4, 9)[:, :3].repeat(1, 4), b),
        F.linear(rows, w.reshape(4, 9)[:, :3].repeat(1, 4), b),
    )
    rows = torch.randn(5, 3, dtype=torch.float64)
    wl = torch.randn(2, 3, dtype=torch.float64)
    with torch.inference_mode():
        assert torch.equal(framewise_linear(rows, wl), F.linear(rows, wl))
