"""The spectral encoder: lengths, causality, features, streaming == offline, reset, config."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import torch

from codec.config import CodecConfig, SpectralConfig
from codec.model import Codec
from codec.nn.streaming import reset_streaming, run_chunked, streaming
from codec.seanet.encoder import SEANetEncoder
from codec.spectral.encoder import MIN_MAGNITUDE, CausalFrames, SpectralEncoder
from tests.conftest import stream_chunks, tiny_config
from tests.quantize.helpers import assert_close
from tests.vocos.conftest import SMALL

#: n_fft 32 = 4 hops of the tiny codec (hop 8)
TINY = SpectralConfig(n_fft=32, dim=16, intermediate_dim=32, num_blocks=2)


def spectral_config(decoder: str = "vocos") -> CodecConfig:
    base = dataclasses.replace(tiny_config(), encoder="spectral", spectral=TINY)
    return dataclasses.replace(base, decoder="vocos", vocos=SMALL) if decoder == "vocos" else base


def make_encoder(seed: int = 0) -> SpectralEncoder:
    torch.manual_seed(seed)
    return SpectralEncoder(TINY, dimension=16, hop_length=8).eval()


@pytest.mark.parametrize("samples", [1, 7, 8, 9, 64, 203])
def test_frame_counts_equal_the_seanet_encoders(samples: int) -> None:
    wav = torch.randn(2, 1, samples)
    seanet = SEANetEncoder(tiny_config().seanet).eval()
    assert make_encoder()(wav).shape == seanet(wav).shape


def test_features_are_log_magnitudes_of_the_past_window() -> None:
    frames = CausalFrames(n_fft=32, hop_length=8)
    wav = torch.randn(1, 1, 80)
    feats = frames(wav)
    t = 5  # ends at sample 48: x[16:48]
    ref = torch.fft.rfft(wav[0, 0, 16:48] * torch.hann_window(32)).abs()
    assert_close(feats[0, :, t], ref.clamp_min(MIN_MAGNITUDE).log(), atol=1e-4, rtol=1e-4)
    first = torch.fft.rfft(torch.cat([torch.zeros(24), wav[0, 0, :8]]) * torch.hann_window(32))
    assert_close(feats[0, :, 0], first.abs().clamp_min(MIN_MAGNITUDE).log(), atol=1e-4, rtol=1e-4)


def test_causal_frame_t_sees_samples_before_its_end_only() -> None:
    enc = make_encoder()
    wav = torch.randn(1, 1, 96)
    changed = wav.clone()
    changed[..., 40:] = torch.randn(56)
    a, b = enc(wav), enc(changed)
    assert torch.equal(a[..., :5], b[..., :5])  # frame 4 ends at sample 40
    assert not torch.equal(a[..., 5], b[..., 5])


@pytest.mark.parametrize("sizes", [[1], [8], [5], [24, 3, 0, 13], "random"])
def test_streaming_equals_offline(sizes: list[int] | str) -> None:
    enc = make_encoder()
    wav = torch.randn(2, 1, 203)
    if sizes == "random":
        rng = random.Random(0)
        sizes = [rng.randint(0, 30) for _ in range(40)]
    streamed = run_chunked(enc, wav, sizes)  # type: ignore[arg-type]
    assert_close(streamed, enc(wav), atol=1e-5, rtol=0)


def test_reset_one_item_starts_a_fresh_stream() -> None:
    enc = make_encoder()
    a, b = torch.randn(1, 1, 40), torch.randn(1, 1, 48)
    with streaming(enc, 2):
        enc(torch.cat([a, a]))
        reset_streaming(enc, torch.tensor([False, True]))
        out = enc(torch.cat([b, b]))
    fresh = enc(b)
    assert_close(out[1:], fresh, atol=1e-5, rtol=0)
    assert not torch.allclose(out[:1], fresh, atol=1e-3)
    with streaming(enc, 1), pytest.raises(ValueError, match="whole frames"):
        enc(torch.randn(1, 1, 5))
        reset_streaming(enc, torch.tensor([True]))


@pytest.mark.parametrize("decoder", ["vocos", "seanet"])
@pytest.mark.parametrize("sizes", [[8], [13], [24, 3, 0, 5]])
def test_codec_streams_like_offline(decoder: str, sizes: list[int]) -> None:
    torch.manual_seed(0)
    codec = Codec(spectral_config(decoder)).eval()
    assert isinstance(codec.encoder, SpectralEncoder)
    wav = torch.randn(1, 1, 203) * 0.2
    codes, audio = stream_chunks(codec, wav, sizes)
    tokens = codec.encode(wav, 16000)
    assert torch.equal(codes, tokens.codes)
    assert_close(audio, codec.decode(tokens), atol=1e-5, rtol=0)


def test_training_gradient_reaches_the_encoder_and_export_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = Codec(spectral_config()).train()
    out = codec(torch.randn(2, 1, 96) * 0.2, lengths=torch.tensor([96, 50]))
    (out.audio.square().mean() + out.vq.loss).backward()
    assert all(p.grad is not None for p in codec.encoder.parameters())
    codec.eval().save_pretrained(tmp_path / "m")
    back = Codec.from_pretrained(tmp_path / "m")
    assert back.config == codec.config and isinstance(back.encoder, SpectralEncoder)
    wav = torch.randn(1, 1, 80) * 0.1
    assert torch.equal(back.encode(wav, 16000).codes, codec.encode(wav, 16000).codes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spectral": SpectralConfig(n_fft=4)}, "spectral.n_fft"),
        ({"architecture": "hifigan"}, "encoder"),
    ],
)
def test_bad_settings_are_one_clear_line(change: dict, message: str) -> None:
    base = dataclasses.replace(tiny_config(causal=False), encoder="spectral", spectral=TINY)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(base, **change)
    with pytest.raises(ValueError, match="spectral.num_blocks"):
        SpectralConfig(num_blocks=0)


def test_config_round_trips_and_old_configs_load_as_seanet() -> None:
    cfg = spectral_config()
    assert CodecConfig.from_dict(cfg.to_dict()) == cfg
    old = tiny_config().to_dict()
    del old["encoder"], old["spectral"]
    assert CodecConfig.from_dict(old).encoder == "seanet"


def test_pitch_features_give_f0_and_aperiodicity_of_each_frame() -> None:
    """spectral.pitch: two channels after the log-magnitudes, from the frame's own samples."""
    sr = 16000
    frames = CausalFrames(n_fft=640, hop_length=320, pitch_rate=sr)
    t = torch.arange(sr) / sr
    tone = sum(0.7**k * torch.sin(2 * torch.pi * 180 * k * t) for k in range(1, 6)) * 0.2
    noise = torch.randn(sr, generator=torch.Generator().manual_seed(0)) * 0.1
    feats = frames(torch.stack([tone, noise])[:, None])  # type: ignore[list-item]
    assert feats.shape == (2, 321 + 2, 50) and frames.channels == 323
    plain = CausalFrames(n_fft=640, hop_length=320)(torch.stack([tone, noise])[:, None])
    assert torch.equal(feats[:, :321], plain)
    log_f0, aperiodicity = feats[0, 321, 2:], feats[0, 322, 2:]
    expected = torch.log(torch.tensor(180 / 150))
    assert float((log_f0 - expected).abs().max()) < 0.01
    assert float(aperiodicity.max()) < 0.05 < float(feats[1, 322, 2:].min())


@pytest.mark.parametrize("sizes", [[1], [7, 0, 320, 33]])
def test_pitch_features_stream_like_offline(sizes: list[int]) -> None:
    torch.manual_seed(0)
    encoder = SpectralEncoder(
        dataclasses.replace(TINY, n_fft=64, pitch=True), 16, hop_length=8, sample_rate=16000
    ).eval()
    wav = torch.randn(2, 1, 301) * 0.1
    with torch.no_grad():
        assert torch.equal(run_chunked(encoder, wav, sizes), encoder(wav))
    with pytest.raises(ValueError, match="spectral.pitch"):
        SpectralEncoder(dataclasses.replace(TINY, pitch=True), 16, hop_length=8)
