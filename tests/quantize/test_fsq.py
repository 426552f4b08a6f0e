"""Finite scalar quantization: the bound, the grid's codes, STE, residual levels, the module."""

from __future__ import annotations

import math

import pytest
import torch

from codec.quantize import FSQCodebook, GroupedResidualFSQ
from codec.quantize.fsq import BOUND_EPS, fsq_bound
from tests.quantize.helpers import assert_close, assert_straight_through

LEVELS = (8, 5, 5, 5)


def bound_inverse(k: torch.Tensor, levels: tuple[int, ...]) -> torch.Tensor:
    """An input whose bounded value is exactly the integer ``k`` [N, d] (inverting the bound)."""
    lv = torch.tensor(levels, dtype=torch.float64)
    half = (lv - 1) * (1 + BOUND_EPS) / 2
    offset = (1 - lv.remainder(2)) * 0.5
    return (torch.atanh((k.double() + offset) / half) - torch.atanh(offset / half)).float()


@pytest.mark.parametrize("level", [2, 3, 4, 5, 7, 8, 16])
def test_bound_rounds_to_exactly_level_integers(level: int) -> None:
    z = torch.linspace(-30, 30, 20001).unsqueeze(1)
    values = set(fsq_bound(z, torch.tensor([level])).round().flatten().tolist())
    assert values == set(range(-(level // 2), (level - 1) // 2 + 1))
    assert abs(fsq_bound(torch.zeros(1, 1), torch.tensor([level])).item()) < 1e-6


def test_codes_and_grid_values_round_trip_exactly() -> None:
    grid = FSQCodebook(LEVELS)
    codes = torch.arange(grid.codebook_size)
    values = grid.lookup(codes)  # [K, d]
    assert values.shape == (1000, 4)
    assert len({tuple(v) for v in values.tolist()}) == 1000, "every code is its own grid point"
    rounded = values * grid.half_width / grid.scale
    assert torch.equal(rounded, rounded.round())
    assert torch.equal(grid.codes_of(rounded), codes)
    assert torch.equal(grid.embedding, values)
    # first dimension varies fastest (mixed radix, place values 1, 8, 40, 200)
    assert grid.radix.tolist() == [1, 8, 40, 200]
    assert values[:, 0].min() == -1.0 and values[:, 0].max() == 0.75  # even L: one side short
    assert values[:, 1].min() == -1.0 and values[:, 1].max() == 1.0


@pytest.mark.parametrize("levels", [LEVELS, (8, 8, 4, 4), (2, 3)])
def test_every_code_is_reachable(levels: tuple[int, ...]) -> None:
    grid = FSQCodebook(levels)
    codes = torch.arange(grid.codebook_size)
    k = grid.lookup(codes) * grid.half_width  # the integers of every grid point
    assert torch.equal(grid.nearest(bound_inverse(k, levels)), codes)


def test_codes_stay_in_range_for_extreme_inputs() -> None:
    q = GroupedResidualFSQ(8, LEVELS, groups=2, num_levels=3)
    x = torch.randn(3, 8, 50) * torch.tensor([1e-6, 1.0, 1e3, 1e6]).repeat_interleave(2)[:, None]
    codes = q.encode(x)
    assert codes.shape == (3, 6, 50) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 1000
    assert q.codebook_size == 1000


def test_rounding_is_straight_through_and_the_bound_keeps_its_gradient() -> None:
    grid = FSQCodebook(LEVELS, level=1)
    r = (torch.randn(64, 4) * 0.3).requires_grad_(True)
    values, _ = grid.quantize(r)
    g = torch.randn_like(values)
    (grad,) = torch.autograd.grad(values, r, g)
    # the same expression without round(): the estimator is the identity through rounding
    r2 = r.detach().requires_grad_(True)
    smooth = fsq_bound(r2 / grid.scale, grid.levels_t) / grid.half_width * grid.scale
    (expected,) = torch.autograd.grad(smooth, r2, g)
    assert torch.equal(grad, expected)
    assert torch.equal(values, grid.values(fsq_bound(r / grid.scale, grid.levels_t).round()))


@pytest.mark.parametrize(
    ("levels", "std", "factor"), [(LEVELS, 0.1, 1.0), ((3, 3, 3, 3), 0.3, 0.5)]
)
def test_residual_levels_reduce_the_error(
    levels: tuple[int, ...], std: float, factor: float
) -> None:
    torch.manual_seed(0)
    q = GroupedResidualFSQ(4, levels, num_levels=4).eval()  # dim == len(levels): no projection
    x = torch.randn(2, 4, 500) * std
    codes = q.encode(x)
    errors = [(q.decode(codes[:, :n]) - x).pow(2).mean().item() for n in range(1, 5)]
    # odd L: each level works on a grid one step of the previous wide, a steady cut; even L
    # leaves the grid's positive end one step short, so its later levels gain less
    assert all(b < factor * a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 25, errors
    assert q.grids[0][2].scale.tolist() == [(1 / (2 * (v // 2))) ** 2 for v in levels]


def test_forward_equals_decode_of_encode_and_has_no_codebook_loss() -> None:
    torch.manual_seed(0)
    q = GroupedResidualFSQ(12, LEVELS, groups=2, num_levels=2)
    names = {n for n, _ in q.named_parameters()}
    assert names == {
        f"projections.{g}.{io}.{p}"
        for g in (0, 1)
        for io in ("inp", "out")
        for p in ("weight", "bias")
    }
    x = torch.randn(2, 12, 7)
    q.train()
    out = q(x)
    assert set(out.losses) == {"vq/commit"} and out.loss.item() == 0.0
    assert not out.loss.requires_grad
    out.quantized.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q.parameters())
    q.eval()
    out = q(x)
    assert torch.equal(out.codes, q.encode(x))
    assert torch.equal(out.quantized, q.decode(out.codes))
    # fewer levels: group-major prefix per group
    assert torch.equal(q.encode(x, num_codebooks=2), out.codes[:, [0, 2]])


def test_input_gradient_is_the_bound_derivative() -> None:
    q = GroupedResidualFSQ(4, (7, 7, 7, 7), num_levels=1)  # odd L: bound = half * tanh(x)
    x = (torch.randn(1, 4, 9) * 0.5).requires_grad_(True)
    q(x).quantized.sum().backward()
    assert x.grad is not None
    slope = (1 + BOUND_EPS) * (1 - torch.tanh(x.detach()).pow(2))  # half / half_width = 1 + eps
    assert_close(x.grad, slope, atol=1e-6, rtol=1e-6)


def test_metrics_count_the_grid_codes() -> None:
    q = GroupedResidualFSQ(4, (2, 2), groups=2, num_levels=2).train()
    x = torch.randn(2, 4, 64)
    out = q(x)
    names = {k.split("/")[-1] for k in out.metrics if k.startswith("vq/usage/")}
    assert names == {"g0l0", "g0l1", "g1l0", "g1l1"}
    for name in names:
        stream = out.codes[:, ["g0l0", "g0l1", "g1l0", "g1l1"].index(name)].flatten()
        counts = torch.bincount(stream, minlength=4).float()
        assert out.metrics[f"vq/usage/{name}"].item() == (counts > 0).float().mean().item()
        p = counts / counts.sum()
        ppl = math.exp(-(p[p > 0] * p[p > 0].log()).sum().item())
        assert abs(out.metrics[f"vq/perplexity/{name}"].item() - ppl) < 1e-4
    assert all(cb.update_count == 1 for _, cb in q.named_codebooks(2))
    assert q.layout.to_dict() == {"groups": 2, "levels": 2, "codebook_size": 4}


def test_padding_stays_out_of_the_metrics() -> None:
    q = GroupedResidualFSQ(4, (3, 3, 3, 3)).eval()
    x = torch.zeros(1, 4, 10)
    x[..., 5:] = 3.0  # padded frames would add a second code
    mask = torch.zeros(1, 10, dtype=torch.bool)
    mask[:, :5] = True
    out = q(x, mask=mask)
    assert out.metrics["vq/usage/g0l0"].item() == pytest.approx(1 / 81)


def test_dropout_keeps_a_prefix_of_levels() -> None:
    torch.manual_seed(0)
    q = GroupedResidualFSQ(4, LEVELS, num_levels=3, dropout_rate=1.0).train()
    x = torch.randn(1, 4, 20) * 0.3
    kept = set()
    for _ in range(12):
        out = q(x)
        assert q.last_dropout_levels is not None
        n = int(q.last_dropout_levels[0])
        kept.add(n)
        ref = q.decode(out.codes[:, :n])
        assert torch.equal(out.quantized, ref)
    assert len(kept) > 1


def test_state_dict_round_trip_and_bad_levels() -> None:
    q = GroupedResidualFSQ(6, (4, 4), groups=1, num_levels=2).train()
    q(torch.randn(2, 6, 5))
    fresh = GroupedResidualFSQ(6, (4, 4), groups=1, num_levels=2)
    fresh.load_state_dict(q.state_dict())
    x = torch.randn(2, 6, 5)
    assert torch.equal(fresh.eval().encode(x), q.eval().encode(x))
    assert not any("scale" in k or "radix" in k for k in q.state_dict())
    with pytest.raises(ValueError, match="levels"):
        GroupedResidualFSQ(4, (8, 1))
    with pytest.raises(ValueError, match="divisible"):
        GroupedResidualFSQ(5, (8, 5), groups=2)


def test_straight_through_without_projection_is_not_identity_but_bounded() -> None:
    """With dim == len(levels) there is no projection; unlike VQ the input gradient is the
    bound's derivative (FSQ keeps it), so it is not the upstream gradient."""
    q = GroupedResidualFSQ(4, LEVELS)
    with pytest.raises(AssertionError):
        assert_straight_through(q, torch.randn(1, 4, 6))
