"""The shared quantizer surface (``QuantizerBase``) under bf16 autocast: always float32."""

from __future__ import annotations

import copy

import pytest
import torch

from codec.quantize import CodebookConfig, GroupedResidualVQ, ResidualVQ
from codec.quantize.base import QuantizerBase


def quantizers() -> list[QuantizerBase]:
    torch.manual_seed(0)
    cfg = CodebookConfig(kmeans_iters=2)
    factorized = CodebookConfig(codebook_dim=4, normalize=True, ema=False, kmeans_init=False)
    return [
        ResidualVQ(8, 3, codebook_size=256, codebook=cfg),
        GroupedResidualVQ(8, 2, 2, codebook_size=64, codebook=cfg),
        ResidualVQ(8, 2, codebook_size=64, codebook=factorized),
    ]


@pytest.mark.parametrize("index", range(3), ids=["rvq", "grvq", "factorized"])
def test_autocast_changes_no_code_and_no_statistic(index: int) -> None:
    """bf16 distances would pick other codes and round the EMA sums (``bf16-mixed`` training)."""
    q = quantizers()[index]
    q(torch.randn(4, 8, 64) * 3)  # k-means init, outside the comparison
    ref, amp = q, copy.deepcopy(q)
    x = (torch.randn(4, 8, 64) * 3).bfloat16()  # what an autocast encoder hands over
    want = ref(x.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = amp(x)
        codes = amp.encode(x.float())
        decoded = amp.decode(codes)
    assert torch.equal(got.codes, want.codes)
    assert torch.equal(codes, ref.encode(x.float()))
    assert decoded.dtype == torch.float32 and torch.equal(decoded, ref.decode(codes))
    assert got.quantized.dtype == torch.bfloat16  # the caller's dtype comes back
    for (name, a), b in zip(ref.state_dict().items(), amp.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
