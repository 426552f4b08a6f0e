"""Phase integrated from magnitude peaks: peak regions, a sinusoid's phase advance, coherent
synthesis of a harmonic signal, streaming == offline, per-item reset, the decoder option."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from codec.builders import decoder_from_config
from codec.config import CodecConfig
from codec.nn.streaming import reset_streaming, run_chunked, streaming
from codec.vocos.istft import CausalISTFT, causal_stft
from codec.vocos.phase import VocoderPhase, peak_owner, vocoder_phase_step, wrap
from tests.nn.helpers import assert_close
from tests.vocos.conftest import SMALL, vocos_codec_config

N_FFT, HOP = 640, 320


def test_every_bin_belongs_to_its_nearest_peak() -> None:
    log_mag = torch.tensor([[0.0, 3.0, 1.0, 0.5, 0.2, 0.9, 4.0, 2.0, 1.0]])
    # peaks at bins 1 and 6: bin 3 is nearer 1 (2 < 3), bin 4 nearer 6 (2 < 3)
    assert peak_owner(log_mag).tolist() == [[1, 1, 1, 1, 6, 6, 6, 6, 6]]
    halfway = torch.tensor([[0.0, 2.0, 0.0, 0.0, 2.0, 0.0]])  # bins 2.5 from each: lower wins
    assert peak_owner(halfway).tolist() == [[1, 1, 1, 4, 4, 4]]


def test_a_flat_frame_has_no_peak_and_advances_at_bin_centres() -> None:
    flat = torch.zeros(1, 9)
    assert peak_owner(flat).tolist() == [[-1] * 9]
    previous = torch.zeros(1, 9)
    phase = vocoder_phase_step(flat, previous, hop_ratio=0.25)
    expected = wrap(2 * math.pi * 0.25 * torch.arange(9.0))[None]
    assert_close(phase, expected, 1e-6)


@pytest.mark.parametrize("frequency", [1000.0, 1234.5, 3321.7])
def test_a_sinusoid_peak_advances_like_the_true_phase(frequency: float) -> None:
    """From frame t-1's true phase, the predicted phase of the peak bin at frame t is the true
    one within a few hundredths of a radian (parabolic interpolation of a hann main lobe)."""
    t = torch.arange(16000, dtype=torch.float64) / 16000
    spectrum = causal_stft(torch.sin(2 * math.pi * frequency * t)[None], N_FFT, HOP)[0]
    log_mag = spectrum.abs().clamp(min=1e-9).log()
    peak = int(round(frequency * N_FFT / 16000))
    for frame in range(5, 40, 7):
        predicted = vocoder_phase_step(
            log_mag[:, frame][None], spectrum[:, frame - 1].angle()[None], HOP / N_FFT
        )
        error = wrap(predicted[0, peak] - spectrum[peak, frame].angle())
        assert abs(float(error)) < 0.05, (frame, float(error))


def harmonic_speech_like(seconds: float = 1.0) -> torch.Tensor:
    """A glided harmonic tone with a formant-like envelope: [1, T] at 16 kHz."""
    t = torch.arange(int(16000 * seconds), dtype=torch.float32) / 16000
    f0 = 140 + 30 * t  # slow glide, as intonation
    phase = 2 * math.pi * torch.cumsum(f0, 0) / 16000
    harmonics = [
        math.exp(-(((h * 140) - 700) ** 2) / 2e5) * torch.sin(h * phase) for h in range(1, 25)
    ]
    return (sum(harmonics) * 0.1)[None]  # type: ignore[return-value]


def spectral_error(x: torch.Tensor, y: torch.Tensor) -> float:
    """Relative magnitude error of y's re-analysis against x's, away from the start."""
    a = causal_stft(x, N_FFT, HOP).abs()[..., 4:-2]
    b = causal_stft(y, N_FFT, HOP).abs()[..., 4:-2]
    return float((a - b).norm() / a.norm())


def test_true_magnitudes_with_integrated_phase_resynthesise_the_harmonics() -> None:
    """Random phase smears a harmonic signal's spectrum; integrated phase keeps it."""
    x = harmonic_speech_like()
    magnitude = causal_stft(x, N_FFT, HOP).abs()
    istft, vocoder = CausalISTFT(N_FFT, HOP), VocoderPhase(N_FFT, HOP)
    with torch.no_grad():
        phase = vocoder(magnitude.clamp(min=1e-7).log())
        integrated = istft(torch.polar(magnitude, phase))[:, 0]
        torch.manual_seed(0)
        random = istft(torch.polar(magnitude, torch.rand_like(magnitude) * 2 * math.pi))[:, 0]
    good, bad = spectral_error(x, integrated), spectral_error(x, random)
    assert good < 0.1 and bad > 4 * good, (good, bad)  # measured 0.05 and 0.52


@pytest.mark.parametrize("sizes", [[1], [2], [5], [3, 0, 1, 7]])
def test_streaming_is_exactly_offline(sizes: list[int]) -> None:
    torch.manual_seed(0)
    log_mag = torch.randn(2, 17, 23)
    module = VocoderPhase(32, 8)
    offline = module(log_mag)
    assert torch.equal(run_chunked(module, log_mag, sizes), offline)


def test_reset_one_item_starts_a_fresh_stream() -> None:
    torch.manual_seed(0)
    log_mag = torch.randn(2, 17, 12)
    module = VocoderPhase(32, 8)
    with streaming(module, 2):
        module(log_mag[..., :5])
        reset_streaming(module, torch.tensor([True, False]))
        after = module(log_mag[..., 5:])
    assert torch.equal(after[:1], module(log_mag[:1, :, 5:]))
    assert torch.equal(after[1:], module(log_mag[1:])[..., 5:])


def make_decoder() -> torch.nn.Module:
    torch.manual_seed(0)
    config = vocos_codec_config(dataclasses.replace(SMALL, phase="vocoder"))
    return decoder_from_config(config).eval()


@pytest.mark.parametrize("sizes", [[1], [2], [3, 1, 0, 4]])
def test_decoder_with_vocoder_phase_streams_like_offline(sizes: list[int]) -> None:
    decoder = make_decoder()
    latent = torch.randn(2, 16, 19)
    with torch.no_grad():
        assert_close(run_chunked(decoder, latent, sizes), decoder(latent), 1e-5, str(sizes))


def test_residual_phase_starts_at_zero_and_learns() -> None:
    decoder = make_decoder().train()
    bins = SMALL.n_fft // 2 + 1
    head = decoder.head  # type: ignore[union-attr]
    assert not head.weight[bins:].any() and not head.bias[bins:].any()
    decoder(torch.randn(2, 16, 9)).square().mean().backward()
    assert head.weight.grad[bins:].abs().sum() > 0  # the residual gets a gradient


def test_unknown_phase_kind_is_one_clear_line() -> None:
    data = vocos_codec_config().to_dict()
    data["vocos"] = {**data["vocos"], "phase": "griffin"}
    with pytest.raises(ValueError, match="'vocos.phase' must be one of learned, vocoder"):
        CodecConfig.from_dict(data)
