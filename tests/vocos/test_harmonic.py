"""The harmonic source: the Hann lobe, an analytic comb equal to the STFT of a harmonic signal,
the fundamental's running phase (streaming == offline, reset), and the decoder option."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from codec.builders import decoder_from_config
from codec.config import CodecConfig, SpectralConfig
from codec.model import Codec
from codec.nn.streaming import reset_streaming, run_chunked, streaming
from codec.spectral.encoder import PITCH_SCALE
from codec.vocos.harmonic import FundamentalPhase, hann_lobe, harmonic_spectrum
from codec.vocos.istft import causal_stft
from tests.conftest import tiny_config
from tests.nn.helpers import assert_close
from tests.vocos.conftest import SMALL, vocos_codec_config

SR, N_FFT, HOP = 16000, 640, 320
BINS = N_FFT // 2 + 1


def test_hann_lobe_values() -> None:
    d = torch.tensor([0.0, 0.5, 1.0, -1.0, 1.5, 2.0, 3.0, -2.5])
    got = hann_lobe(d)
    assert got[0] == 1.0 and got[2] == 0.5 and got[3] == 0.5
    assert got[5] == 0 and got[6] == 0 and got[7] == 0
    assert 0 < got[4] < got[2] < got[1] < 1


def full_comb(f0: float, seconds: float = 1.0, vibrato: float = 0.0) -> torch.Tensor:
    """Every harmonic of f0 below Nyquist at amplitude 1, phases k times the fundamental's."""
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    # frequency constant over each hop (as the comb assumes), the fundamental's phase continuous
    hop_f0 = f0 * (1 + vibrato * torch.sin(2 * math.pi * 3 * t[::HOP]))
    inst = hop_f0.repeat_interleave(HOP)[: t.numel()]
    phase = 2 * math.pi * torch.cumsum(inst, 0) / SR
    phase = torch.cat([phase.new_zeros(1), phase[:-1]])
    top = int((SR / 2 - 1) // (f0 * (1 + vibrato)))
    return sum(torch.cos(k * phase) for k in range(1, top + 1))[None], hop_f0  # type: ignore[return-value]


@pytest.mark.parametrize("f0", [97.0, 143.7, 220.0])
def test_the_comb_is_the_stft_of_a_harmonic_signal(f0: float) -> None:
    x, _ = full_comb(f0)
    want = causal_stft(x, N_FFT, HOP)[..., 1:-3] / (N_FFT / 4)  # whole frames only
    f0_bins = torch.full((1, want.shape[-1] + 1), f0 * N_FFT / SR, dtype=torch.float64)
    got = harmonic_spectrum(f0_bins, FundamentalPhase(N_FFT, HOP)(f0_bins[:, None]), BINS)
    got = got[..., 1:]
    low = slice(0, BINS - 8)  # the top bins also hold the mirrored negative frequencies
    error = (got[:, low] - want[:, low]).abs().sum() / want[:, low].abs().sum()
    assert float(error) < 0.05, float(error)


def test_comb_magnitudes_follow_a_changing_f0() -> None:
    """f0 gliding from hop to hop (vibrato): each frame's comb sits where the STFT's peaks are
    (its phase is only defined up to the glide within a frame, so magnitudes are compared)."""
    x, hop_f0 = full_comb(150.0, vibrato=0.03)
    want = causal_stft(x, N_FFT, HOP)[..., :-3].abs() / (N_FFT / 4)
    frames = want.shape[-1]
    frame_f0 = 0.5 * (hop_f0[:frames] + hop_f0[1 : frames + 1])  # frame t spans hops t, t+1
    f0_bins = (frame_f0 * N_FFT / SR)[None]
    got = harmonic_spectrum(f0_bins, FundamentalPhase(N_FFT, HOP)(f0_bins[:, None]), BINS).abs()
    low = slice(0, 100)
    error = (got[:, low] - want[:, low]).abs().sum() / want[:, low].abs().sum()
    static = torch.full_like(f0_bins, 150.0 * N_FFT / SR)
    ignored = harmonic_spectrum(static, torch.zeros_like(static), BINS).abs()
    static_error = (ignored[:, low] - want[:, low]).abs().sum() / want[:, low].abs().sum()
    assert float(error) < 0.25 < float(static_error), (float(error), float(static_error))


def test_the_comb_has_a_gradient_in_f0() -> None:
    f0 = torch.full((1, 4), 5.3, requires_grad=True)
    comb = harmonic_spectrum(f0, torch.zeros(1, 4), 64)
    comb.abs().sum().backward()
    assert f0.grad is not None and f0.grad.abs().sum() > 0


@pytest.mark.parametrize("sizes", [[1], [2], [5], [3, 0, 1, 7]])
def test_fundamental_phase_streams_exactly_like_offline(sizes: list[int]) -> None:
    torch.manual_seed(0)
    f0 = torch.rand(2, 1, 23) * 8 + 2
    module = FundamentalPhase(N_FFT, HOP)
    assert torch.equal(run_chunked(module, f0, sizes), module(f0))


def test_reset_one_item_starts_a_fresh_stream() -> None:
    torch.manual_seed(0)
    f0 = torch.rand(2, 1, 12) * 8 + 2
    module = FundamentalPhase(N_FFT, HOP)
    with streaming(module, 2):
        module(f0[..., :5])
        reset_streaming(module, torch.tensor([True, False]))
        after = module(f0[..., 5:])
    assert torch.equal(after[:1], module(f0[:1, :, 5:]))
    assert torch.equal(after[1:], module(f0[1:])[..., 5:])


def harmonic_config() -> CodecConfig:
    return vocos_codec_config(dataclasses.replace(SMALL, harmonic=True))


@pytest.mark.parametrize("sizes", [[1], [2], [3, 1, 0, 4]])
def test_decoder_streams_exactly_like_offline(sizes: list[int]) -> None:
    torch.manual_seed(0)
    decoder = decoder_from_config(harmonic_config()).eval()
    latent = torch.randn(2, 16, 19)
    with torch.no_grad():
        assert_close(run_chunked(decoder, latent, sizes), decoder(latent), 1e-5, str(sizes))


def test_training_forward_returns_the_f0_and_trains_it() -> None:
    torch.manual_seed(0)
    codec = Codec(harmonic_config()).train()
    out = codec(torch.randn(2, 1, 200) * 0.1)
    assert out.f0 is not None and out.f0.shape == (2, 25)
    assert float(out.f0.min()) >= 45 and float(out.f0.max()) <= 500
    out.f0.log().mean().backward()
    head = codec.decoder.head  # type: ignore[union-attr]
    assert head.weight.grad[-1].abs().sum() > 0  # the f0 channel
    plain = Codec(vocos_codec_config()).train()(torch.randn(2, 1, 200))
    assert plain.f0 is None


def test_harmonic_needs_the_learned_phase() -> None:
    data = harmonic_config().to_dict()
    data["vocos"] = {**data["vocos"], "phase": "vocoder"}
    with pytest.raises(ValueError, match="'vocos.harmonic' needs vocos.phase=learned"):
        CodecConfig.from_dict(data)


def test_the_encoders_pitch_channel_drives_the_decoders_f0() -> None:
    """spectral.pitch + vocos.harmonic: latent channel 0 is PITCH_SCALE * log(f0 / 150 Hz)
    from YIN on periodic frames (0 elsewhere), and an untrained decoder's f0 is that f0."""
    sr = 16000
    spectral = SpectralConfig(n_fft=640, dim=16, intermediate_dim=32, num_blocks=1, pitch=True)
    config = dataclasses.replace(
        vocos_codec_config(dataclasses.replace(SMALL, n_fft=640, harmonic=True)),
        encoder="spectral",
        spectral=spectral,
        seanet=dataclasses.replace(tiny_config().seanet, ratios=[8, 5, 4, 2]),
    )
    torch.manual_seed(0)
    codec = Codec(config).eval()
    t = torch.arange(sr) / sr
    tone = sum(0.7**k * torch.sin(2 * math.pi * 180 * k * t) for k in range(1, 6)) * 0.2
    silence = torch.zeros(1, 1, sr // 2)
    wav = torch.cat([silence, tone[None, None], silence], dim=-1)  # type: ignore[index]
    with torch.no_grad():
        latent = codec.encoder(wav)
        _, f0 = codec.decoder.forward_with_pitch(latent)  # type: ignore[operator]
    voiced = slice(27, 73)  # frames well inside the tone
    expected = PITCH_SCALE * math.log(180 / 150)
    assert float((latent[0, 0, voiced] - expected).abs().max()) < 0.05
    assert float(latent[0, 0, :20].abs().max()) == 0.0  # silence: no pitch
    assert f0 is not None and float((f0[0, voiced] / 180 - 1).abs().max()) < 0.01
    assert codec.encoder.proj.out_features == config.latent_dim - 1  # type: ignore[union-attr]
