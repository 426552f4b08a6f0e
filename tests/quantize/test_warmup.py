"""Bypass warm-up, bypass rate and the k-means refit that ends the warm-up."""

from __future__ import annotations

import pytest
import torch

from codec.quantize import BypassConfig, CodebookConfig, GroupedResidualVQ
from codec.quantize import functional as Fq
from codec.quantize.warmup import RowBuffer, bypass_mask


def make(steps: int = 3, rate: float = 0.0, refit: int = 64) -> GroupedResidualVQ:
    torch.manual_seed(0)
    return GroupedResidualVQ(
        8,
        groups=2,
        num_levels=2,
        codebook_size=16,
        codebook=CodebookConfig(kmeans_iters=4),
        bypass=BypassConfig(steps=steps, rate=rate, refit_vectors=refit),
    ).train()


def test_bypass_config_validation() -> None:
    with pytest.raises(ValueError, match="bypass.rate"):
        BypassConfig(rate=1.0)
    with pytest.raises(ValueError, match="bypass.steps"):
        BypassConfig(steps=-1)
    assert not BypassConfig().enabled and BypassConfig(steps=1).enabled


def test_mask_schedule_is_deterministic_and_per_sample() -> None:
    cfg = BypassConfig(steps=2, rate=0.5)
    dev = torch.device("cpu")
    assert torch.equal(bypass_mask(cfg, 1, 3, 4, dev), torch.ones(12))
    masks = [bypass_mask(cfg, s, 8, 4, dev) for s in range(2, 30)]
    draws = [torch.zeros(32) if m is None else m for m in masks]
    for m in draws:  # whole samples: 4 frames share a flag
        assert torch.equal(m.view(8, 4), m.view(8, 4)[:, :1].expand(8, 4))
    frac = torch.stack(draws).mean().item()
    assert 0.3 < frac < 0.7
    again = bypass_mask(cfg, 5, 8, 4, dev)
    assert (again is None and masks[3] is None) or torch.equal(again, masks[3])
    assert bypass_mask(BypassConfig(steps=2), 2, 8, 4, dev) is None


def test_row_buffer_keeps_the_latest_rows() -> None:
    buf = RowBuffer(5)
    buf.add(torch.arange(6.0).view(3, 2))
    buf.add(torch.arange(6.0, 12.0).view(3, 2))
    assert len(buf) == 5
    rows = buf.take()
    assert rows is not None and torch.equal(rows[:, 0], torch.tensor([2.0, 4, 6, 8, 10]))
    assert buf.take() is None and len(buf) == 0


def test_warmup_passes_the_latent_through_with_identity_gradient_and_no_commitment() -> None:
    q = make(steps=3)
    for _ in range(3):
        x = torch.randn(2, 8, 10, requires_grad=True)
        out = q(x)
        assert torch.equal(out.quantized, x.detach())
        assert out.losses["vq/commit"].item() == 0.0
        out.quantized.backward(torch.ones_like(x))
        assert x.grad is not None and torch.equal(x.grad, torch.ones_like(x))
        assert not torch.equal(out.codes, torch.zeros_like(out.codes))  # codes still chosen
    x = torch.randn(2, 8, 10)
    out = q(x)
    assert not torch.equal(out.quantized, x)
    assert out.losses["vq/commit"].item() > 0


def test_refit_fits_the_codebooks_to_the_warmup_frames() -> None:
    q = make(steps=4, refit=200)
    centres = torch.randn(16, 8) * 4
    frames = []
    for _ in range(5):  # warm-up on a shifted distribution, refit at the 5th update
        idx = torch.randint(16, (40,))
        x = centres[idx] + 0.05 * torch.randn(40, 8)
        frames.append(x)
        q(x.T.reshape(1, 8, 40))
    # level 0 of group 0 now matches the 16 clusters of the warm-up frames (k-means on them)
    cb = q.rvqs[0].levels[0].codebook
    data = torch.cat(frames)[:, :4]
    err = Fq.squared_distances(data, cb.embedding).min(1).values.mean().item()
    assert err < 0.05
    assert len(q.recent) == 0  # the buffer is released after the refit


def test_bypass_rate_after_warmup_mixes_quantized_and_latent_samples() -> None:
    q = make(steps=1, rate=0.5)
    q(torch.randn(4, 8, 6))  # warm-up update
    mixed = 0
    for _ in range(10):
        x = torch.randn(4, 8, 6)
        out = q(x)
        same = [torch.equal(out.quantized[b], x[b]) for b in range(4)]
        mixed += any(same) and not all(same)
    assert mixed > 0
