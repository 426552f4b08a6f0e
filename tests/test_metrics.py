from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from codec.metrics import (
    MetricUnavailableError,
    NoUtteranceError,
    mel_distance,
    pesq,
    pesq_batch,
    si_sdr,
    stft_distance,
    stoi,
    stoi_batch,
)


def speech_like(sample_rate: int, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Voiced syllables: a gliding f0 with harmonics shaped by three formants, a syllabic
    amplitude envelope and short pauses; peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = ((600, 90), (1400, 120), (2600, 180))
    wav = np.zeros_like(t)
    for k in range(1, 40):
        freq = k * f0
        gain = sum(np.exp(-0.5 * ((freq - fc) / bw) ** 2) for fc, bw in formants) + 0.05 / k
        wav += np.where(freq < sample_rate / 2 - 200, gain, 0.0) * np.sin(k * phase)
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, np.pi)), 0, None) ** 0.7
    pauses = (np.sin(2 * np.pi * 0.45 * t) > -0.8).astype(float)
    wav = wav * syllables * pauses + 1e-4 * rng.standard_normal(t.shape)
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def test_si_sdr_identity_and_scale_invariance() -> None:
    torch.manual_seed(0)
    ref = torch.randn(3, 1, 4000)
    assert (si_sdr(ref, ref) > 60).all()
    assert (si_sdr(0.1 * ref, ref) > 60).all()  # scale-invariant
    assert si_sdr(ref, ref).shape == (3,)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_si_sdr_known_snr(snr_db: float) -> None:
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(4, 16000, generator=g)
    noise = torch.randn(4, 16000, generator=g)
    noise = noise * ref.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    est = ref + noise * 10 ** (-snr_db / 20)
    assert torch.allclose(si_sdr(est, ref), torch.full((4,), snr_db), atol=0.5)


def test_si_sdr_lengths_ignore_padding() -> None:
    torch.manual_seed(2)
    ref = torch.randn(2, 1, 3000)
    est = ref + 0.1 * torch.randn(2, 1, 3000)
    lengths = torch.tensor([3000, 1800])
    base = si_sdr(est, ref, lengths)
    est2 = est.clone()
    est2[1, :, 1800:] = 50.0
    assert torch.allclose(si_sdr(est2, ref, lengths), base)
    assert torch.allclose(base[1], si_sdr(est[1:, :, :1800], ref[1:, :, :1800])[0], atol=1e-4)
    with pytest.raises(ValueError):
        si_sdr(est, ref[..., :10])


def test_mel_and_stft_distance() -> None:
    torch.manual_seed(3)
    x, y = torch.randn(2, 1, 4000), torch.randn(2, 1, 4000)
    assert mel_distance(x, x, 16000).item() == pytest.approx(0.0, abs=1e-6)
    dist = mel_distance(x.requires_grad_(True), y, 16000)
    assert dist.dim() == 0 and dist.item() > 0.1 and not dist.requires_grad
    assert stft_distance(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert stft_distance(x, y, lengths=torch.tensor([4000, 3000])).item() > 0.1


def test_stoi_identity_and_noise() -> None:
    wav = speech_like(16000, seconds=2.0)
    assert stoi(wav, wav, 16000) > 0.99
    assert stoi(wav, wav, 16000, extended=True) > 0.99
    noisy = wav + 0.3 * np.random.default_rng(0).standard_normal(wav.shape).astype(np.float32)
    assert stoi(noisy, wav, 16000) < 0.9


def test_stoi_batch_lengths() -> None:
    wav = torch.from_numpy(speech_like(16000, seconds=2.0))
    batch = torch.stack([wav, wav]).unsqueeze(1)
    batch[1, :, 24000:] = 0.0
    scores = stoi_batch(batch, batch, 16000, lengths=torch.tensor([32000, 24000]))
    assert len(scores) == 2 and all(s > 0.99 for s in scores)


def test_pesq_identical_near_max() -> None:
    wav = speech_like(16000)
    score = pesq(wav, wav, 16000, "wb")
    assert score is not None and score > 4.0
    noisy = wav + 0.05 * np.random.default_rng(0).standard_normal(wav.shape).astype(np.float32)
    noisy_score = pesq(noisy, wav, 16000, "wb")
    assert noisy_score is not None and noisy_score < score - 1.0


def test_pesq_resamples_and_narrowband() -> None:
    wav = speech_like(24000, seconds=2.0)
    wb = pesq(torch.from_numpy(wav), torch.from_numpy(wav), 24000, "wb")
    nb = pesq(wav, wav, 24000, "nb")
    assert wb is not None and wb > 4.0
    assert nb is not None and nb > 4.0
    batch = torch.from_numpy(wav)[None, None]
    assert pesq_batch(batch, batch, 24000, mode="nb")[0] == pytest.approx(nb)
    with pytest.raises(ValueError, match="mode"):
        pesq(wav, wav, 24000, "xb")  # type: ignore[arg-type]


def test_pesq_no_utterance() -> None:
    silence = np.zeros(16000, dtype=np.float32)
    assert pesq(silence, silence, 16000) is None
    with pytest.raises(NoUtteranceError):
        pesq(silence, silence, 16000, strict=True)


def test_missing_package_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)
    monkeypatch.setitem(sys.modules, "pystoi", None)
    wav = np.zeros(1600, dtype=np.float32)
    with pytest.raises(MetricUnavailableError, match="pesq"):
        pesq(wav, wav, 16000)
    with pytest.raises(MetricUnavailableError, match="pystoi"):
        stoi(wav, wav, 16000)
    assert issubclass(MetricUnavailableError, ImportError)
