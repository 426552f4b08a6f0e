"""Per-utterance scores against known values; alignment; PESQ skips silence."""

from __future__ import annotations

import pytest
import torch

from codec.eval.scores import utterance_metrics

from .conftest import SR

pytest.importorskip("pesq")
pytest.importorskip("pystoi")


def test_identity_gives_perfect_scores(speech: torch.Tensor) -> None:
    scores, skipped = utterance_metrics(speech, speech, SR)
    assert skipped == {}
    assert scores["pesq_wb"] == pytest.approx(4.64, abs=0.01)  # the P.862.2 ceiling
    assert scores["pesq_nb"] == pytest.approx(4.55, abs=0.01)  # the P.862.1 ceiling
    assert scores["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["si_sdr"] > 60
    assert scores["mel_distance"] == pytest.approx(0.0, abs=1e-6)
    assert scores["stft_distance"] == pytest.approx(0.0, abs=1e-6)


def test_known_noise_gives_expected_si_sdr(speech: torch.Tensor) -> None:
    ref = speech.double()
    noise = torch.randn(ref.shape, generator=torch.Generator().manual_seed(0)).double()
    ref0, noise = ref - ref.mean(), noise - noise.mean()
    noise = noise - (noise @ ref0) / (ref0 @ ref0) * ref0  # orthogonal to the reference
    for snr in (0.0, 10.0, 20.0):
        scaled = noise * (ref0.norm() / noise.norm()) * 10 ** (-snr / 20)
        estimate = 0.7 * ref0 + 0.7 * scaled  # SI-SDR ignores the gain
        scores, _ = utterance_metrics(estimate.float(), ref0.float(), SR, ["si_sdr"])
        assert scores["si_sdr"] == pytest.approx(snr, abs=0.05)
    noisy = speech + 0.05 * torch.randn(speech.shape, generator=torch.Generator().manual_seed(1))
    clean, _ = utterance_metrics(speech, speech, SR, ["pesq_wb", "stoi", "mel_distance"])
    dirty, _ = utterance_metrics(noisy, speech, SR, ["pesq_wb", "stoi", "mel_distance"])
    assert dirty["pesq_wb"] < clean["pesq_wb"] - 1
    assert dirty["stoi"] < clean["stoi"]
    assert dirty["mel_distance"] > clean["mel_distance"] + 0.1


def test_lengths_are_aligned(speech: torch.Tensor) -> None:
    longer = torch.cat([speech, torch.zeros(100)])
    shorter = speech[: SR // 2]  # zero-padded: the rest of the speech counts as error
    a, _ = utterance_metrics(longer, speech, SR, ["si_sdr"])
    b, _ = utterance_metrics(shorter, speech, SR, ["si_sdr"])
    assert a["si_sdr"] > 60 and b["si_sdr"] < 10


def test_silence_is_skipped_for_pesq_not_fatal() -> None:
    silence = torch.zeros(SR)
    scores, skipped = utterance_metrics(silence, silence, SR, ["pesq_wb", "pesq_nb", "si_sdr"])
    assert "no utterance" in skipped["pesq_wb"] and "no utterance" in skipped["pesq_nb"]
    assert "si_sdr" in scores
