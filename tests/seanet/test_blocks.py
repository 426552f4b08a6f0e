"""SEANet residual block: exact gradients through the fused and copy-free paths."""

from __future__ import annotations

import pytest
import torch

from codec.config import SEANetConfig
from codec.nn.streaming import reset_streaming, streaming
from codec.seanet.blocks import SEANetResnetBlock


@pytest.mark.parametrize("true_skip", [True, False])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_residual_block_gradients(true_skip: bool, pad_mode: str) -> None:
    """The fused 1x1-conv + residual sum (in-place GEMM accumulation, in-place ELU) and the
    copy-free padding keep exact gradients: numerical check in float64 on an input long enough
    for the copy-free path."""
    cfg = SEANetConfig(n_filters=2, causal=True, pad_mode=pad_mode, true_skip=true_skip)
    block = SEANetResnetBlock(cfg, dim=4, dilation=2).double()
    x = torch.randn(1, 4, 44, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,), eps=1e-6, atol=1e-5)


def test_residual_block_item_reset_refused_while_branches_out_of_step() -> None:
    cfg = SEANetConfig(n_filters=2, causal=True, pad_mode="reflect")
    block = SEANetResnetBlock(cfg, dim=4, dilation=2)
    with streaming(block, 2):
        block(torch.randn(2, 4, 3))  # the shortcut ran ahead: the dilated conv is starting up
        with pytest.raises(ValueError, match="out of step"):
            reset_streaming(block, torch.tensor([True, False]))
