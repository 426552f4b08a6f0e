from __future__ import annotations

import math

import pytest
import torch

from codec.losses import (
    MelSpectrogram,
    MultiScaleMelLoss,
    adversarial_d_loss,
    adversarial_g_loss,
    complex_stft_loss,
    feature_matching_loss,
    l1_loss,
    mel_filters,
    multi_resolution_stft_loss,
    multiscale_mel_loss,
    pitch_loss,
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


def test_complex_stft_loss_sees_phase() -> None:
    # A quarter-period delay of a sine keeps its magnitude spectrum and turns its phase by 90
    # degrees: the complex loss must rate it far worse than a 1.5x gain error.
    t = torch.arange(8000) / SR
    y = torch.sin(2 * torch.pi * 500 * t)[None, None]
    x = torch.cos(2 * torch.pi * 500 * t)[None, None]
    assert complex_stft_loss(y, y).item() == pytest.approx(0.0, abs=1e-6)
    shifted = complex_stft_loss(x, y).item()
    scaled = complex_stft_loss(1.5 * y, y).item()
    assert shifted > 2 * scaled > 0
    # Silence against silence stays finite in value and gradient (the magnitude floor).
    zero = torch.zeros(1, 1, 2000, requires_grad=True)
    complex_stft_loss(zero, torch.zeros(1, 1, 2000)).backward()
    assert zero.grad is not None and torch.isfinite(zero.grad).all()


def test_l1_known_value() -> None:
    x = torch.zeros(2, 1, 10)
    y = torch.full((2, 1, 10), 0.5)
    assert l1_loss(x, y).item() == pytest.approx(0.5)
    assert l1_loss(y, y).item() == 0.0


@pytest.mark.parametrize("loss_name", ["mel", "stft", "l1", "complex"])
def test_masking_ignores_padding(loss_name: str) -> None:
    torch.manual_seed(1)
    n = 3000
    x, y = torch.randn(2, 1, n), torch.randn(2, 1, n)
    lengths = torch.tensor([n, 2000])
    fns = {
        "mel": lambda a, b, lens: multiscale_mel_loss(a, b, SR, lens, (64, 256), (10, 40)),
        "stft": lambda a, b, lens: multi_resolution_stft_loss(a, b, lens, ((256, 64), (512, 128))),
        "l1": l1_loss,
        "complex": lambda a, b, lens: complex_stft_loss(a, b, lens, (256, 512)),
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


@pytest.mark.parametrize("loss_name", ["mel", "stft", "l1", "complex"])
def test_recon_gradients_flow(loss_name: str, wavs: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = wavs
    x = x.clone().requires_grad_(True)
    fns = {
        "mel": lambda: multiscale_mel_loss(x, y, SR, l2_weight=1.0),
        "stft": lambda: multi_resolution_stft_loss(x, y),
        "l1": lambda: l1_loss(x, y),
        "complex": lambda: complex_stft_loss(x, y),
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


def test_pitch_loss_is_the_mean_log_error_over_voiced_frames() -> None:
    f0 = torch.tensor([[100.0, 200.0, 300.0, 50.0]])
    target = torch.tensor([[100.0, 100.0, 0.0, 400.0]])
    voiced = torch.tensor([[True, True, False, False]])
    # frames 0 and 1: errors 0 and log 2; unvoiced frames count for nothing
    assert float(pitch_loss(f0, target, voiced)) == pytest.approx(math.log(2) / 2)
    assert float(pitch_loss(f0, target, torch.zeros_like(voiced))) == 0.0
    # the decoder's extra frame past the target's is ignored
    longer = torch.cat([f0, torch.tensor([[999.0]])], dim=-1)
    assert float(pitch_loss(longer, target, voiced)) == pytest.approx(math.log(2) / 2)
