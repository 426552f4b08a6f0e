"""ELU / Snake factory and the Snake formula."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.nn.activations import Snake, make_activation


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 0.0, msg: str = "") -> None:
    """Max-abs comparison (``torch.testing.assert_close`` costs seconds on its first call)."""
    assert got.shape == want.shape, f"{msg} shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() if got.numel() else 0.0
    assert err <= atol, f"{msg} max abs error {err:.3g} > {atol}"


def test_snake_formula_and_shape() -> None:
    snake = Snake(3, alpha=2.0)
    assert snake.alpha.shape == (1, 3, 1)
    x = torch.randn(2, 3, 5)
    expected = x + torch.sin(2.0 * x).pow(2) / 2.0
    assert_close(snake(x), expected, 1e-6)


def test_snake_alpha_is_learnable_per_channel() -> None:
    snake = Snake(4)
    snake(torch.randn(1, 4, 8)).sum().backward()
    assert snake.alpha.grad is not None and snake.alpha.grad.shape == (1, 4, 1)


def test_make_activation() -> None:
    assert isinstance(make_activation("elu", 3), nn.ELU)
    assert isinstance(make_activation("snake", 3), Snake)
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("relu", 3)
