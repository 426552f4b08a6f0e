from __future__ import annotations

import torch

from codec.quantize import CodebookConfig, VectorQuantizer
from tests.quantize.helpers import assert_straight_through


def test_projection_and_factorized_codes() -> None:
    torch.manual_seed(0)
    q = VectorQuantizer(16, 8, CodebookConfig(codebook_dim=4, normalize=True, kmeans_iters=2))
    assert q.project.enabled
    x = torch.randn(2, 16, 12, requires_grad=True)
    q.train()
    out = q(x)
    assert out.codes.shape == (2, 1, 12) and out.quantized.shape == (2, 16, 12)
    (out.quantized.sum() + out.loss).backward()
    # the projections learn through the straight-through estimator in codebook space
    assert q.project.inp.weight.grad is not None and q.project.out.weight.grad is not None
    assert x.grad is not None and x.grad.abs().sum() > 0
    q.eval()
    out = q(x)
    assert torch.equal(q.decode(q.encode(x)), out.quantized)


def test_normalized_codes_pick_by_direction() -> None:
    q = VectorQuantizer(2, 2, CodebookConfig(normalize=True, kmeans_init=False))
    with torch.no_grad():
        q.codebook.embedding.copy_(torch.tensor([[10.0, 0.0], [0.0, 0.1]]))
    x = torch.tensor([[[0.2], [1.0]]])  # nearer to code 0 in distance, to code 1 in direction
    assert q.encode(x).item() == 1


def test_plain_vq_is_a_one_level_quantizer() -> None:
    torch.manual_seed(0)
    q = VectorQuantizer(4, 4, CodebookConfig(kmeans_iters=2))
    out = assert_straight_through(q, torch.randn(3, 4, 8))
    assert q.layout.num_codebooks == 1 and "vq/usage/g0l0" in out.metrics
