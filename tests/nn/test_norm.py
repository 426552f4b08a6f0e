"""Weight norm: applied as a parametrization, removable without changing outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.nn.conv import StreamingConv1d, StreamingConvTranspose1d
from codec.nn.norm import apply_norm, has_weight_norm, remove_weight_norm


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 0.0, msg: str = "") -> None:
    """Max-abs comparison (``torch.testing.assert_close`` costs seconds on its first call)."""
    assert got.shape == want.shape, f"{msg} shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() if got.numel() else 0.0
    assert err <= atol, f"{msg} max abs error {err:.3g} > {atol}"


def test_apply_norm_keys() -> None:
    conv = apply_norm(nn.Conv1d(2, 3, 3), "weight_norm")
    assert set(conv.state_dict()) == {
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    }
    assert apply_norm(nn.Conv1d(2, 3, 3), "none").weight.shape == (3, 2, 3)
    with pytest.raises(ValueError, match="unknown norm"):
        apply_norm(nn.Conv1d(2, 3, 3), "spectral_norm")


def test_remove_weight_norm_keeps_outputs() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        StreamingConv1d(2, 4, 3, causal=True, norm="weight_norm"),
        nn.ELU(),
        StreamingConvTranspose1d(4, 2, 4, 2, causal=True, norm="weight_norm"),
    )
    with torch.no_grad():  # move g away from |v| so the norm really matters
        for m in model.modules():
            if hasattr(m, "parametrizations"):
                m.parametrizations.weight.original0.mul_(1.7)
    x = torch.randn(2, 2, 19)
    before = model(x)
    assert has_weight_norm(model)
    assert remove_weight_norm(model) is model
    assert not has_weight_norm(model)
    assert not any("parametrizations" in k for k in model.state_dict())
    assert_close(model(x), before, 1e-6)
    remove_weight_norm(model)  # idempotent
