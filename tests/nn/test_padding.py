"""Padding maths of the streaming convs and ``pad1d``, against EnCodec where it applies."""

from __future__ import annotations

import itertools

import pytest
import torch

from codec.nn.padding import (
    check_pad_mode,
    effective_kernel_size,
    extra_padding,
    output_frames,
    pad1d,
    split_padding,
    startup_length,
    total_padding,
    transpose_trim,
)
from tests.nn.helpers import assert_close, encodec_modules


def test_effective_kernel_and_total_padding() -> None:
    assert effective_kernel_size(3, 1) == 3
    assert effective_kernel_size(3, 4) == 9
    assert total_padding(7) == 6
    assert total_padding(8, stride=4) == 4
    assert total_padding(3, dilation=2) == 4
    with pytest.raises(ValueError, match="smaller than the stride"):
        total_padding(1, stride=2)


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(4, 2, 1), (10, 5, 1), (3, 1, 3), (3, 3, 1)]
)
def test_extra_padding_completes_last_frame(kernel: int, stride: int, dilation: int) -> None:
    pad = total_padding(kernel, stride, dilation)
    k_eff = effective_kernel_size(kernel, dilation)
    for length in range(0, 30):
        extra = extra_padding(length, kernel, stride, dilation)
        assert extra == (-length) % stride
        padded = length + pad + extra
        if length:
            assert (padded - k_eff) % stride == 0  # no sample left out of the last window
            assert (padded - k_eff) // stride + 1 == output_frames(length, stride)


def test_extra_padding_matches_encodec() -> None:
    conv = encodec_modules().conv
    for kernel, stride, length in itertools.product([1, 2, 4, 7, 8], [1, 2, 4], range(1, 20)):
        if kernel < stride:
            continue
        x = torch.zeros(1, 1, length)
        pad = total_padding(kernel, stride)
        ref = conv.get_extra_padding_for_conv1d(x, kernel, stride, pad)
        assert extra_padding(length, kernel, stride) == ref


def test_output_frames() -> None:
    assert [output_frames(t, 4) for t in range(0, 10)] == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]


def test_split_padding_and_transpose_trim() -> None:
    assert split_padding(5, causal=True) == (5, 0)
    assert split_padding(5, causal=False) == (3, 2)
    assert transpose_trim(8, 4, causal=True) == (0, 4)
    assert transpose_trim(8, 4, causal=True, trim_right_ratio=0.5) == (2, 2)
    assert transpose_trim(10, 5, causal=True, trim_right_ratio=0.5) == (2, 3)  # ceil on right
    assert transpose_trim(10, 5, causal=False) == (3, 2)


def test_startup_length() -> None:
    assert startup_length(6, 0, 1, "constant") == 0
    assert startup_length(6, 0, 1, "replicate") == 1
    assert startup_length(6, 0, 1, "reflect") == 7  # x[1..6] and x[0]
    assert startup_length(0, 0, 4, "reflect") == 4


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad1d_matches_encodec_on_short_inputs(mode: str) -> None:
    ref = encodec_modules().conv.pad1d
    torch.manual_seed(0)
    for length, left, right in itertools.product([1, 2, 3, 6], [0, 2, 6], [0, 1, 5]):
        x = torch.randn(2, 3, length)
        assert_close(pad1d(x, left, right, mode), ref(x, (left, right), mode))


def test_check_pad_mode() -> None:
    for mode in ("constant", "reflect", "replicate"):
        check_pad_mode(mode)
    with pytest.raises(ValueError, match="unknown pad_mode 'circular'"):
        check_pad_mode("circular")
