from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from codec.losses import (
    GradientBalancer,
    MelSpectrogram,
    MultiScaleMelLoss,
    adversarial_d_loss,
    adversarial_g_loss,
    feature_matching_loss,
    l1_loss,
    mel_filters,
    multi_resolution_stft_loss,
    multiscale_mel_loss,
    stft_loss,
)

SR = 16000


@pytest.fixture
def wavs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 1, 4000, generator=g), torch.randn(2, 1, 4000, generator=g)


def test_mel_spectrogram_shape_and_filters() -> None:
    mel = MelSpectrogram(SR, n_fft=512, hop_length=128, n_mels=40)
    out = mel(torch.randn(3, 1, 1000))
    assert out.shape == (3, 40, 1000 // 128 + 1)
    assert mel_filters(SR, 512, 40).shape == (40, 257)
    assert "filters" not in mel.state_dict()  # derived, not checkpointed


def test_mel_loss_identity_and_positive(wavs: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = wavs
    assert multiscale_mel_loss(x, x, SR).item() == pytest.approx(0.0, abs=1e-6)
    loss = multiscale_mel_loss(x, y, SR)
    assert loss.dim() == 0 and loss.item() > 0
    module = MultiScaleMelLoss(SR, windows=(64, 256), n_mels=(10, 40), l2_weight=1.0)
    assert module(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert module(x, y).item() > multiscale_mel_loss(x, y, SR, windows=(64, 256), n_mels=(10, 40))


def test_mel_loss_config_mismatch() -> None:
    x = torch.randn(1, 1, 512)
    with pytest.raises(ValueError, match="differ in length"):
        multiscale_mel_loss(x, x, SR, windows=(64, 128), n_mels=(10,))
    with pytest.raises(ValueError, match="differ in shape"):
        multiscale_mel_loss(x, torch.randn(1, 1, 256), SR)


def test_stft_losses(wavs: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = wavs
    assert stft_loss(x, x, 512, 128).item() == pytest.approx(0.0, abs=1e-6)
    assert multi_resolution_stft_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert multi_resolution_stft_loss(x, y).item() > 0.5
    # Spectral convergence of a zero estimate is exactly 1 (+ log-magnitude term).
    zero = torch.zeros_like(y)
    assert stft_loss(zero, y, 256, 64).item() > 1.0


def test_l1_known_value() -> None:
    x = torch.zeros(2, 1, 10)
    y = torch.full((2, 1, 10), 0.5)
    assert l1_loss(x, y).item() == pytest.approx(0.5)
    assert l1_loss(y, y).item() == 0.0


@pytest.mark.parametrize("loss_name", ["mel", "stft", "l1"])
def test_masking_ignores_padding(loss_name: str) -> None:
    torch.manual_seed(1)
    n = 3000
    x, y = torch.randn(2, 1, n), torch.randn(2, 1, n)
    lengths = torch.tensor([n, 2000])
    fns = {
        "mel": lambda a, b, lens: multiscale_mel_loss(a, b, SR, lens, (64, 256), (10, 40)),
        "stft": lambda a, b, lens: multi_resolution_stft_loss(a, b, lens, ((256, 64), (512, 128))),
        "l1": l1_loss,
    }
    fn = fns[loss_name]
    base = fn(x, y, lengths)
    # Changing the padded region of either signal does not change the loss.
    x2, y2 = x.clone(), y.clone()
    x2[1, :, 2000:] = 100.0
    y2[1, :, 2000:] = torch.randn(1, n - 2000)
    assert fn(x2, y2, lengths).item() == pytest.approx(base.item(), rel=1e-5)
    # Full-length masks equal no mask; a fully identical valid region gives 0.
    assert fn(x, y, torch.tensor([n, n])).item() == pytest.approx(fn(x, y, None).item(), rel=1e-5)
    y3 = x.clone()
    y3[1, :, 2000:] = 5.0
    assert fn(x, y3, lengths).item() == pytest.approx(0.0, abs=1e-5)
    # Without the mask the padded region does count.
    assert fn(x2, y2, None).item() != pytest.approx(base.item(), rel=1e-3)


@pytest.mark.parametrize("loss_name", ["mel", "stft", "l1"])
def test_recon_gradients_flow(loss_name: str, wavs: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = wavs
    x = x.clone().requires_grad_(True)
    fns = {
        "mel": lambda: multiscale_mel_loss(x, y, SR, l2_weight=1.0),
        "stft": lambda: multi_resolution_stft_loss(x, y),
        "l1": lambda: l1_loss(x, y),
    }
    fns[loss_name]().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_adversarial_known_values() -> None:
    zeros, ones = [torch.zeros(2, 5)], [torch.ones(2, 5)]
    assert adversarial_g_loss(zeros, "hinge").item() == pytest.approx(1.0)
    assert adversarial_g_loss(ones, "hinge").item() == pytest.approx(0.0)
    assert adversarial_g_loss([torch.full((3,), -1.0)], "lsgan").item() == pytest.approx(4.0)
    assert adversarial_g_loss(ones, "lsgan").item() == pytest.approx(0.0)
    # D: real at 1 and fake at -1 is perfect for both kinds (lsgan: fake at 0).
    assert adversarial_d_loss(ones, [-torch.ones(2, 5)], "hinge").item() == pytest.approx(0.0)
    assert adversarial_d_loss(zeros, zeros, "hinge").item() == pytest.approx(2.0)
    assert adversarial_d_loss(ones, zeros, "lsgan").item() == pytest.approx(0.0)
    assert adversarial_d_loss(zeros, ones, "lsgan").item() == pytest.approx(2.0)
    # Averaged over discriminators: a perfect and a chance one give the mean.
    two = adversarial_g_loss([torch.ones(4), torch.zeros(7)], "hinge")
    assert two.item() == pytest.approx(0.5)


def test_adversarial_errors_and_grads() -> None:
    with pytest.raises(ValueError, match="unknown adversarial"):
        adversarial_g_loss([torch.zeros(1)], "wgan")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        adversarial_d_loss([torch.zeros(1)], [], "hinge")
    logit = torch.zeros(4, requires_grad=True)
    adversarial_g_loss([logit], "lsgan").backward()
    assert logit.grad is not None and torch.allclose(logit.grad, torch.full((4,), -0.5))


def test_feature_matching() -> None:
    torch.manual_seed(0)
    real = [[torch.randn(2, 4, 8), torch.randn(2, 3)], [torch.randn(2, 5)]]
    assert feature_matching_loss(real, real).item() == pytest.approx(0.0)
    # Relative: fake = 0 gives |f|/|f| = 1 for every layer; absolute gives mean|f|.
    zeros = [[torch.zeros_like(f) for f in disc] for disc in real]
    assert feature_matching_loss(real, zeros).item() == pytest.approx(1.0)
    expected = sum(f.abs().mean().item() for d in real for f in d) / 3
    assert feature_matching_loss(real, zeros, relative=False).item() == pytest.approx(expected)
    # Gradients reach the fake features only.
    fake = [[f.clone().requires_grad_(True) + 0.1 for f in d] for d in real]
    leaf = real[0][0].clone().requires_grad_(True)
    feature_matching_loss([[leaf, real[0][1]], real[1]], fake).backward()
    assert leaf.grad is None


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
