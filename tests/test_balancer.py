"""EnCodec's gradient balancer (codec/balancer.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from codec.balancer import GradientBalancer


def _part_norms(grad: torch.Tensor, per_batch_item: bool) -> tuple[float, float]:
    big, small = grad[:, :8], grad[:, 8:]
    if per_batch_item:
        return big.norm(dim=1).mean().item(), small.norm(dim=1).mean().item()
    return big.norm().item(), small.norm().item()


@pytest.mark.parametrize("per_batch_item", [True, False])
def test_balancer_shares_match_weights(per_batch_item: bool) -> None:
    # Two losses on disjoint halves of the output, gradients 1000x apart in scale, so each
    # loss's share of the balanced gradient can be read off its half.
    torch.manual_seed(0)
    balancer = GradientBalancer({"big": 1.0, "small": 3.0}, per_batch_item=per_batch_item)
    for _ in range(3):
        x = torch.randn(4, 16).requires_grad_(True)
        losses = {"big": 1000.0 * x[:, :8].sum(), "small": x[:, 8:].sum()}
        out = balancer.backward(losses, x)
        assert x.grad is not None
        ratio = out.grad_norms["big"] / out.grad_norms["small"]
        assert ratio.item() == pytest.approx(1000.0)
        n_big, n_small = _part_norms(x.grad, per_batch_item)
        assert n_big == pytest.approx(0.25, rel=1e-5)
        assert n_small == pytest.approx(0.75, rel=1e-5)
        assert out.total.item() == pytest.approx((losses["big"] + 3 * losses["small"]).item())


def test_balancer_uses_ema_of_norms() -> None:
    torch.manual_seed(0)
    balancer = GradientBalancer({"big": 1.0, "small": 1.0}, ema_decay=0.5, per_batch_item=False)
    for step in range(4):
        x = torch.randn(2, 16).requires_grad_(True)
        scale = 10.0 ** (step + 1)  # the big loss's scale keeps growing
        out = balancer.backward(
            {"big": scale * x[:, :8].square().sum(), "small": x[:, 8:].sum()}, x
        )
        assert x.grad is not None
        n_big, n_small = _part_norms(x.grad, False)
        expected = 0.5 * out.grad_norms["big"].item() / out.ema_norms["big"].item()
        assert n_big == pytest.approx(expected, rel=1e-5)
        assert n_small == pytest.approx(0.5, rel=1e-5)
        if step > 0:  # the EMA lags a growing norm, so the big share overshoots
            assert n_big > 0.5


def test_balancer_backprops_into_model_and_checks_keys() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 6)
    balancer = GradientBalancer({"a": 1.0, "b": 1.0})
    y = model(torch.randn(3, 6))
    balancer.backward({"a": y.square().mean(), "b": 1e4 * y.abs().mean()}, y)
    assert model.weight.grad is not None and torch.isfinite(model.weight.grad).all()
    assert set(balancer.state_dict()) == {"ema_sum", "ema_count"}
    with pytest.raises(ValueError, match="expects losses"):
        balancer.backward({"a": model(torch.randn(1, 6)).sum()}, y)
    with pytest.raises(ValueError):
        GradientBalancer({})
    # A loss that does not depend on the output contributes nothing (and no error).
    y = model(torch.randn(3, 6))
    balancer.backward({"a": y.sum(), "b": model.bias.sum()}, y)
    assert math.isfinite(balancer.ema_sum.sum().item())


def test_balancer_averages_norms_across_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake a 2-rank job where the other rank's gradient norms are 3x ours: the EMA must use the
    # mean, and all losses must share one all_reduce call.
    calls: list[torch.Tensor] = []

    def fake_all_reduce(tensor: torch.Tensor, op: object = None) -> None:
        calls.append(tensor.clone())
        tensor.mul_(4.0)  # ours + the other rank's (3x ours)

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "all_reduce", fake_all_reduce)
    balancer = GradientBalancer({"a": 1.0, "b": 1.0, "c": 2.0}, per_batch_item=False)
    x = torch.randn(2, 12).requires_grad_(True)
    losses = {"a": x[:, :4].sum(), "b": 10 * x[:, 4:8].sum(), "c": 100 * x[:, 8:].sum()}
    out = balancer.backward(losses, x)
    assert len(calls) == 1 and calls[0].shape == (3,)
    for name in "abc":
        assert out.ema_norms[name].item() == pytest.approx(2 * out.grad_norms[name].item())


def test_balancer_with_real_single_rank_group(tmp_path: Path) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1)
    try:
        balancer = GradientBalancer({"a": 1.0, "b": 1.0}, per_batch_item=False)
        x = torch.randn(2, 8).requires_grad_(True)
        out = balancer.backward({"a": x[:, :4].sum(), "b": 5 * x[:, 4:].square().sum()}, x)
        assert x.grad is not None
        assert x.grad[:, :4].norm().item() == pytest.approx(0.5, rel=1e-5)
        assert out.ema_norms["a"].item() == pytest.approx(out.grad_norms["a"].item())
    finally:
        dist.destroy_process_group()


def _reference_out_grad(
    losses: dict[str, torch.Tensor],
    y: torch.Tensor,
    weights: dict[str, float],
    ema: dict[str, list[float]],
    per_batch_item: bool,
    decay: float,
) -> torch.Tensor:
    """EnCodec's balanced gradient w.r.t. ``y``, written out: each loss's gradient divided by
    the (bias-corrected) EMA of its norm, times its weight share. ``ema`` holds [sum, count]."""
    out = torch.zeros_like(y)
    for name, loss in losses.items():
        (grad,) = torch.autograd.grad(loss, y, retain_graph=True)
        norm = grad.flatten(1).norm(dim=1).mean() if per_batch_item else grad.norm()
        ema[name] = [decay * ema[name][0] + norm.item(), decay * ema[name][1] + 1.0]
        share = weights[name] / sum(weights.values())
        out += grad * share / (1e-12 + ema[name][0] / ema[name][1])
    return out


@pytest.mark.parametrize("per_batch_item", [True, False])
def test_balance_surrogate_in_one_backward_matches_reference(per_batch_item: bool) -> None:
    # What the training module does: the balanced surrogate plus a term that bypasses the
    # output (the VQ losses), backpropagated once. `balance` itself must not touch any
    # parameter's .grad (under DDP only the one backward may).
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 8)
    weights = {"a": 2.0, "b": 1.0}
    balancer = GradientBalancer(weights, ema_decay=0.5, per_batch_item=per_batch_item)
    ema = {name: [0.0, 0.0] for name in weights}
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        y = model(torch.randn(3, 6))
        losses = {"a": y.square().mean(), "b": 1e3 * y[:, :4].abs().mean()}
        vq = 0.3 * model.weight.square().sum()
        ref_out = _reference_out_grad(losses, y, weights, ema, per_batch_item, 0.5)
        params = list(model.parameters())
        reference = torch.autograd.grad(vq + (y * ref_out).sum(), params, retain_graph=True)
        out = balancer.balance(losses, y)
        assert all(p.grad is None for p in model.parameters())
        (vq + out.surrogate).backward()
        for param, expected in zip(params, reference):
            assert param.grad is not None
            torch.testing.assert_close(param.grad, expected, rtol=1e-5, atol=1e-7)
        for name in weights:
            ema_norm = ema[name][0] / ema[name][1]
            assert out.ema_norms[name].item() == pytest.approx(ema_norm, rel=1e-5)
