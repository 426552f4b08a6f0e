"""Standardized quantizer input: moments, running statistics, invariance to offset and scale."""

from __future__ import annotations

import torch

from codec.quantize import CodebookConfig, GroupedResidualVQ
from codec.quantize.distributed import World
from codec.quantize.standardize import RunningStandardizer, moments_to_stats, weighted_moments
from tests.quantize.helpers import assert_close


def test_moments_skip_padded_rows() -> None:
    x = torch.randn(50, 3) * 2 + 1
    weights = torch.ones(50)
    weights[40:] = 0
    mean, var = moments_to_stats(weighted_moments(x, weights))
    assert_close(mean, x[:40].mean(0), atol=1e-5, rtol=1e-5)
    assert_close(var, x[:40].var(0, unbiased=False), atol=1e-4, rtol=1e-4)


def test_running_statistics_init_track_and_ignore_empty_batches() -> None:
    std = RunningStandardizer(3, decay=0.5)
    torch.manual_seed(0)
    x = torch.randn(400, 3) * torch.tensor([0.01, 1.0, 10.0]) + torch.tensor([5.0, -2.0, 0.0])
    std.init_from(x, None, World())
    y = std(x)
    assert_close(y.mean(0), torch.zeros(3), atol=1e-3, rtol=0.0)
    assert_close(y.std(0), torch.ones(3), atol=1e-2, rtol=0.0)
    before = std.mean.clone()
    out = torch.zeros(std.numel)
    std.accumulate(out, x + 4.0, None)
    std.update(out)
    assert_close(std.mean, before + 2.0, atol=1e-4, rtol=0.0)  # half-way at decay 0.5
    frozen = (std.mean.clone(), std.var.clone())
    std.update(weighted_moments(x, torch.zeros(400)))
    assert torch.equal(std.mean, frozen[0]) and torch.equal(std.var, frozen[1])


def make(standardize: bool = True) -> GroupedResidualVQ:
    torch.manual_seed(0)
    cb = CodebookConfig(kmeans_iters=3, decay=0.9)
    return GroupedResidualVQ(
        6, groups=2, num_levels=2, codebook_size=16, codebook=cb, standardize=standardize
    )


def test_codes_do_not_depend_on_the_latent_offset_and_scale() -> None:
    a, b = make().train(), make().train()
    offset, scale = torch.randn(1, 6, 1) * 50, 300.0
    for step in range(6):
        x = torch.randn(3, 6, 20, generator=torch.Generator().manual_seed(step))
        out_a, out_b = a(x), b(x * scale + offset)
        assert torch.equal(out_a.codes, out_b.codes), f"step {step}"
    x = torch.randn(2, 6, 30)
    assert torch.equal(a.eval().encode(x), b.eval().encode(x * scale + offset))


def test_decode_of_encode_is_the_standardized_quantized_output() -> None:
    q = make().train()
    for _ in range(3):
        q(torch.randn(2, 6, 25) * 7 + 3)
    q.eval()
    x = torch.randn(2, 6, 25) * 7 + 3
    out = q(x)
    assert torch.equal(q.decode(q.encode(x)), out.quantized)
    assert out.quantized.abs().mean().item() < 3  # unit scale, not the raw latent's


def test_state_dict_keys_only_when_enabled() -> None:
    assert any("standardizer" in k for k in make(True).state_dict())
    assert not any("standardizer" in k for k in make(False).state_dict())
    a = make().train()
    a(torch.randn(2, 6, 10) * 4)
    b = make()
    b.load_state_dict(a.state_dict())
    assert b.standardizer is not None and b.standardizer.is_initialized
