"""VocosDecoder: SEANet's lengths, streaming == offline, causality, gradients, reset, config."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from codec.builders import decoder_from_config
from codec.config import CodecConfig, VocosConfig
from codec.nn.streaming import reset_streaming, run_chunked, streaming
from codec.seanet.decoder import SEANetDecoder
from codec.vocos.decoder import VocosDecoder
from tests.conftest import tiny_config
from tests.nn.helpers import assert_close
from tests.vocos.conftest import SMALL, vocos_codec_config

HOP = 8  # tiny_config's ratios (4, 2)


def make_decoder(vocos: VocosConfig = SMALL, seed: int = 0) -> VocosDecoder:
    torch.manual_seed(seed)
    decoder = decoder_from_config(vocos_codec_config(vocos))
    assert isinstance(decoder, VocosDecoder)
    return decoder.eval()


@pytest.mark.parametrize("frames", [1, 2, 7])
def test_lengths_equal_seanet_decoders(frames: int) -> None:
    """Offline and streamed, both decoders give F * hop samples for F frames."""
    seanet = SEANetDecoder(tiny_config().seanet).eval()
    vocos = make_decoder()
    latent = torch.randn(2, 16, frames)
    with torch.no_grad():
        for decoder in (seanet, vocos):
            assert decoder(latent).shape == (2, 1, frames * HOP)
            assert run_chunked(decoder, latent, [1]).shape == (2, 1, frames * HOP)


@pytest.mark.parametrize(("n_fft", "subframes"), [(16, 1), (24, 1), (32, 1), (16, 2), (32, 4)])
@pytest.mark.parametrize("sizes", [[1], [2], [3], "random"])
def test_streaming_equals_offline(n_fft: int, subframes: int, sizes: list[int] | str) -> None:
    decoder = make_decoder(dataclasses.replace(SMALL, n_fft=n_fft, subframes=subframes))
    latent = torch.randn(2, 16, 23)
    if sizes == "random":
        rng = random.Random(n_fft)
        sizes = [rng.randint(0, 5) for _ in range(30)]
    with torch.no_grad():
        offline = decoder(latent)
        for flush_with in (0, 2):
            chunked = run_chunked(decoder, latent, sizes, flush_with=flush_with)  # type: ignore[arg-type]
            assert_close(chunked, offline, 1e-5, f"{sizes} flush_with={flush_with}")


@pytest.mark.parametrize("subframes", [1, 4])
def test_causal_frame_by_frame(subframes: int) -> None:
    """Each frame emits its hop at once; a frame changes no sample before its own hop."""
    decoder = make_decoder(dataclasses.replace(SMALL, subframes=subframes))
    latent = torch.randn(1, 16, 12)
    with torch.no_grad(), streaming(decoder, 1):
        assert [decoder(latent[..., t : t + 1]).shape[-1] for t in range(12)] == [HOP] * 12
    changed = latent.clone()
    changed[..., 5] += 1.0
    with torch.no_grad():
        a, b = decoder(latent), decoder(changed)
    assert torch.equal(a[..., : 5 * HOP], b[..., : 5 * HOP])
    assert not torch.allclose(a[..., 5 * HOP :], b[..., 5 * HOP :])


def test_gradient_reaches_every_parameter() -> None:
    decoder = make_decoder().train()
    latent = torch.randn(2, 16, 9, requires_grad=True)
    decoder(latent).square().mean().backward()
    assert latent.grad is not None and bool(latent.grad.abs().sum() > 0)
    for name, param in decoder.named_parameters():
        assert param.grad is not None and bool(param.grad.abs().sum() > 0), name


def test_reset_one_item_starts_a_fresh_stream() -> None:
    decoder = make_decoder()
    latent = torch.randn(2, 16, 14)
    with torch.no_grad():
        with streaming(decoder, 2):
            decoder(latent[..., :6])
            reset_streaming(decoder, torch.tensor([True, False]))
            after = torch.cat([decoder(latent[..., 6:9]), decoder.flush(latent[..., 9:])], -1)
        fresh, whole = decoder(latent[:1, :, 6:]), decoder(latent[1:])[..., 6 * HOP :]
    assert_close(after[:1], fresh, 1e-5)
    assert_close(after[1:], whole, 1e-5)


def test_autocast_output_is_float32_and_close() -> None:
    decoder = make_decoder()
    latent = torch.randn(1, 16, 10)
    with torch.no_grad():
        reference = decoder(latent)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = decoder(latent)
    assert mixed.dtype == torch.float32
    assert float((mixed - reference).abs().max()) < 0.1 * float(reference.abs().max())


def test_bad_input_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match=r"expects \[B, 16, F\]"):
        make_decoder()(torch.zeros(1, 8, 3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"decoder": "vocoss"}, "'decoder' must be one of seanet, vocos"),
        ({"vocos": {"n_fft": 15}}, "vocos.n_fft' must be even"),
        ({"vocos": {"n_fft": 14}}, "at least twice the hop length 8"),
        ({"vocos": {"num_blocks": 0}}, "vocos.num_blocks' must be >= 1"),
        ({"vocos": {"layer_scale_init": 0}}, "vocos.layer_scale_init"),
        ({"seanet": {"channels": 2}}, "mono"),
        ({"vocos": {"subframes": 0}}, "vocos.subframes' must be >= 1"),
        ({"vocos": {"subframes": 2, "phase": "vocoder"}}, "vocos.subframes' > 1 needs"),
        ({"vocos": {"subframes": 3}}, r"vocos.subframes' \(3\) must divide the hop \(8\)"),
    ],
)
def test_bad_vocos_settings_are_one_clear_line(change: dict, message: str) -> None:
    data = vocos_codec_config().to_dict()
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ValueError, match=message):
        CodecConfig.from_dict(data)


def test_subframes_must_divide_the_hop() -> None:
    """Also the decoder built without a CodecConfig (the config checks it at load)."""
    with pytest.raises(ValueError, match=r"vocos.subframes' \(3\) must divide the hop \(8\)"):
        make_decoder(dataclasses.replace(SMALL, subframes=3))


def test_subframes_synthesise_at_a_finer_hop() -> None:
    """With 4 subframes the head predicts 4 STFT frames per latent frame, synthesised 2
    samples apart (hop 8 / 4); the output length is unchanged."""
    decoder = make_decoder(dataclasses.replace(SMALL, subframes=4))
    assert decoder.istft.hop_length == 2 and decoder.head.out_features == 4 * 2 * 17
    latent = torch.randn(2, 16, 5)
    with torch.no_grad():
        h = decoder.norm_out(torch.randn(2, 5, 16))
        assert decoder.spectrum(h).shape == (2, 17, 20)
        assert decoder(latent).shape == (2, 1, 5 * HOP)


def test_vocos_needs_architecture_seanet() -> None:
    data = CodecConfig(architecture="hifigan").to_dict()
    with pytest.raises(ValueError, match="vocos only with architecture=seanet"):
        CodecConfig.from_dict({**data, "decoder": "vocos"})


def test_config_round_trips_and_old_configs_load_as_seanet() -> None:
    cfg = vocos_codec_config()
    assert CodecConfig.from_dict(cfg.to_dict()) == cfg
    old = tiny_config().to_dict()
    del old["decoder"], old["vocos"]
    assert CodecConfig.from_dict(old) == tiny_config()
    assert isinstance(decoder_from_config(CodecConfig.from_dict(old)), SEANetDecoder)
