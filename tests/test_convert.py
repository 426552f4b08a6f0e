"""EnCodec 24 kHz import: both peer formats give identical codes and audio after conversion.

No download: the peers are built with random weights (fixed seed), their codebooks given
random centroids at the latent's scale (bench/encodec_peer.py), and converted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from bench.encodec_peer import (
    ENCODEC_BANDWIDTHS,
    encodec_24khz_random,
    encodec_decode,
    encodec_encode,
    transformers_encodec_random,
)
from codec.cli import main
from codec.config import PRESETS
from codec.convert import (
    HF_REPO,
    convert_encodec_state_dict,
    detect_format,
    download_encodec_24khz,
    load_checkpoint,
)
from codec.data.synthetic import synthetic_speech
from codec.loading import convert_to_pretrained, load_converted, load_model
from codec.model import Codec
from codec.quantize.functional import laplace_smoothing
from tests.conftest import stream_chunks
from tests.hub_cache import cache_repo, commit_hash

torch.set_num_threads(1)
SR = 24_000
BANDWIDTHS = (1.5, 6.0, 24.0)


@pytest.fixture(scope="module")
def audio() -> torch.Tensor:
    """[2, 1, T]: 1.6 s (120 whole frames) of speech-like audio and a speech + noise mix."""
    a = synthetic_speech(1.6, SR, seed=3)
    noise = torch.randn(1, a.shape[-1], generator=torch.Generator().manual_seed(5))
    b = 0.5 * synthetic_speech(1.6, SR, seed=4) + 0.01 * noise
    return torch.stack([a, b])


@pytest.fixture(scope="module")
def peer() -> torch.nn.Module:
    return encodec_24khz_random(seed=0)


@pytest.fixture(scope="module")
def hf_peer() -> torch.nn.Module:
    return transformers_encodec_random(seed=1)


def converted(state: dict[str, torch.Tensor], source: str | None = None) -> Codec:
    model = Codec(PRESETS["encodec_24khz"])
    model.load_state_dict(convert_encodec_state_dict(state, source))  # type: ignore[arg-type]
    return model.eval()


@pytest.fixture(scope="module")
def ours(peer: torch.nn.Module) -> Codec:
    return converted(peer.state_dict())


def test_preset_matches_encodec_24khz(peer: torch.nn.Module) -> None:
    cfg = PRESETS["encodec_24khz"]
    enc = peer.encoder
    assert cfg.sample_rate == peer.sample_rate == SR
    assert list(cfg.seanet.ratios) == list(peer.decoder.ratios)
    assert cfg.seanet.dimension == enc.dimension and cfg.seanet.n_filters == enc.n_filters
    assert cfg.hop_length == enc.hop_length and cfg.frame_rate == peer.frame_rate == 75
    assert cfg.seanet.causal and cfg.seanet.pad_mode == "reflect" and not cfg.seanet.true_skip
    assert cfg.quantizer.num_levels == peer.quantizer.n_q == 32
    assert cfg.quantizer.codebook_size == peer.quantizer.bins == 1024
    model = Codec(cfg)
    for kbps, k in ENCODEC_BANDWIDTHS.items():
        assert model.bitrate(k) == pytest.approx(kbps * 1000)
    ours_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    conv_shapes = {k: tuple(v.shape) for k, v in converted(peer.state_dict()).state_dict().items()}
    assert ours_shapes == conv_shapes


def test_detect_format(peer: torch.nn.Module, hf_peer: torch.nn.Module) -> None:
    assert detect_format(peer.state_dict()) == "encodec"
    assert detect_format(hf_peer.state_dict()) == "transformers"
    with pytest.raises(ValueError, match="not an EnCodec state dict"):
        detect_format({"foo.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="already in codec's own format"):
        detect_format(Codec(PRESETS["encodec_24khz"]).state_dict())


@pytest.mark.parametrize("bandwidth", BANDWIDTHS)
def test_encodec_package_identical(
    peer: torch.nn.Module, ours: Codec, audio: torch.Tensor, bandwidth: float
) -> None:
    k = ENCODEC_BANDWIDTHS[bandwidth]
    with torch.no_grad():
        ref_codes = encodec_encode(peer, audio, bandwidth)
        ref_audio = encodec_decode(peer, ref_codes)[..., : audio.shape[-1]]
    tokens = ours.encode(audio, SR, num_codebooks=k)
    assert tokens.codes.shape == ref_codes.shape == (2, k, 120)
    assert torch.equal(tokens.codes, ref_codes)
    assert len(set(ref_codes[0, -1].tolist())) > 20  # codes are not trivial
    out = ours.decode(tokens)
    assert out.shape == ref_audio.shape
    assert torch.allclose(out, ref_audio, atol=1e-4, rtol=0)
    assert ref_audio.abs().max() > 1e-2


def test_partial_last_frame(peer: torch.nn.Module, ours: Codec, audio: torch.Tensor) -> None:
    """A length that is not a whole number of frames: every frame but the last is EnCodec's.

    ``Codec.encode`` zero-pads the waveform to whole frames (so batches and streaming agree),
    where EnCodec pads inside each layer; only the last, partial frame can differ.
    """
    wav = audio[:, :, : 100 * 320 + 123]
    with torch.no_grad():
        ref = encodec_encode(peer, wav, 6.0)
    codes = ours.encode(wav, SR, num_codebooks=8).codes
    assert codes.shape == ref.shape == (2, 8, 101)
    assert torch.equal(codes[..., :-1], ref[..., :-1])


@pytest.mark.slow  # importing transformers takes a while
@pytest.mark.parametrize("bandwidth", BANDWIDTHS)
def test_transformers_identical(
    hf_peer: torch.nn.Module, audio: torch.Tensor, bandwidth: float
) -> None:
    model = converted(hf_peer.state_dict(), "transformers")
    k = ENCODEC_BANDWIDTHS[bandwidth]
    with torch.no_grad():
        enc = hf_peer.encode(audio, bandwidth=bandwidth)
        ref_audio = hf_peer.decode(enc.audio_codes, enc.audio_scales).audio_values
    ref_codes = enc.audio_codes[0]
    tokens = model.encode(audio, SR, num_codebooks=k)
    assert torch.equal(tokens.codes, ref_codes)
    assert len(set(ref_codes[0, -1].tolist())) > 20
    out = model.decode(tokens)
    assert torch.allclose(out, ref_audio[..., : audio.shape[-1]], atol=1e-4, rtol=0)


def test_transformers_old_weight_norm_names(hf_peer: torch.nn.Module) -> None:
    """Hub checkpoints saved by older transformers use ``weight_g`` / ``weight_v``."""
    state = hf_peer.state_dict()
    old = {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v
        for k, v in state.items()
    }
    assert any(k.endswith("weight_g") for k in old)
    new_names = convert_encodec_state_dict(state)
    old_names = convert_encodec_state_dict(old)
    assert new_names.keys() == old_names.keys()
    assert all(torch.equal(new_names[k], old_names[k]) for k in new_names)


def test_codebook_statistics_are_consistent(peer: torch.nn.Module, ours: Codec) -> None:
    """embedding == embedding_sum / smoothed usage, so a training update keeps EnCodec's codes."""
    state = peer.state_dict()
    cb = ours.quantizer.rvqs[0].levels[5].codebook  # type: ignore[index]
    assert torch.equal(cb.embedding, state["quantizer.vq.layers.5._codebook.embed"])
    assert torch.equal(cb.cluster_usage, state["quantizer.vq.layers.5._codebook.cluster_size"])
    derived = cb.embedding_sum / laplace_smoothing(cb.cluster_usage, cb.config.epsilon)[:, None]
    assert torch.allclose(derived, cb.embedding, rtol=1e-5, atol=1e-6)
    assert cb.is_initialized and bool(cb.initialized)


def test_streaming_equals_offline(ours: Codec, audio: torch.Tensor) -> None:
    """Reflect padding delays the first frames; the streamed codes and audio still match."""
    wav = audio[:1, :, : SR + 1234]
    ref = ours.encode(wav, SR)
    ref_audio = ours.decode(ref)
    codes, streamed = stream_chunks(ours, wav, [1, 700, 37, 2400, 5, 960, 4000])
    assert torch.equal(codes, ref.codes)
    assert streamed.shape == ref_audio.shape
    assert torch.allclose(streamed, ref_audio, atol=1e-5, rtol=0)


def test_load_converted_files(peer: torch.nn.Module, ours: Codec, tmp_path: Path) -> None:
    state = peer.state_dict()
    th = tmp_path / "encodec_24khz-test.th"
    torch.save(state, th)
    st = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(st))
    reference = ours.state_dict()
    for source in (th, st, tmp_path):  # the directory holds model.safetensors
        model = Codec.from_pretrained("encodec_24khz", path=str(source))
        assert not model.training
        loaded = model.state_dict()
        assert all(torch.equal(loaded[k], reference[k]) for k in reference)


def test_convert_to_pretrained_round_trip(
    peer: torch.nn.Module, ours: Codec, audio: torch.Tensor, tmp_path: Path
) -> None:
    th = tmp_path / "encodec.th"
    torch.save(peer.state_dict(), th)
    out = convert_to_pretrained(th, tmp_path / "export")
    back = Codec.from_pretrained(out)
    assert back.config == PRESETS["encodec_24khz"]
    wav = audio[:1, :, :4800]
    assert torch.equal(back.encode(wav, SR).codes, ours.encode(wav, SR).codes)
    with pytest.raises(ValueError, match="already converted"):
        load_checkpoint(out)


def test_clear_errors(peer: torch.nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs local weights") as err:
        Codec.from_pretrained("encodec_24khz")
    assert f"path={HF_REPO!r}" in str(err.value)
    with pytest.raises(ValueError, match="not found"):
        load_converted("encodec_24khz", tmp_path / "missing.th")
    with pytest.raises(ValueError, match="only 'encodec_24khz'"):
        load_converted("hificodec_16k", tmp_path / "x.th")
    state = peer.state_dict()
    # a stereo model (like the 48 kHz EnCodec) has other shapes
    state["encoder.model.0.conv.conv.weight_v"] = torch.zeros(32, 2, 7)
    bad = tmp_path / "bad.th"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"shape \(32, 2, 7\).*24 kHz"):
        load_converted("encodec_24khz", bad)
    with pytest.raises(ValueError, match="unexpected keys"):
        convert_encodec_state_dict({**peer.state_dict(), "encoder.extra.weight": torch.zeros(1)})
    garbage = tmp_path / "garbage.th"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(garbage)


def test_released_weights_come_through_the_hub_cache(
    hf_peer: torch.nn.Module, audio: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """facebook/encodec_24khz as huggingface_hub caches it (transformers config + safetensors):
    fetched offline, converted, identical to converting the state dict directly."""
    import huggingface_hub

    state = {k: v.contiguous() for k, v in hf_peer.state_dict().items()}
    weights = tmp_path / "w.safetensors"
    save_file(state, str(weights))
    config = b'{"model_type": "encodec", "sampling_rate": 24000, "audio_channels": 1}'
    files = {"config.json": config, "model.safetensors": weights.read_bytes()}
    cache = tmp_path / "cache"
    snapshot = cache_repo(cache, HF_REPO, files, commit_hash("encodec"), ("main",))
    folder = download_encodec_24khz(cache_dir=cache, local_files_only=True)
    assert folder == snapshot.resolve() or folder == snapshot
    reference = converted(hf_peer.state_dict(), "transformers")
    wav = audio[:1, :, :4800]
    ref_codes = reference.encode(wav, SR).codes
    model = Codec.from_pretrained("encodec_24khz", path=str(folder))
    assert torch.equal(model.encode(wav, SR).codes, ref_codes)
    # the repo id itself, as a path or a --model spec, under HF_HUB_OFFLINE
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    via_id = load_model(f"encodec_24khz:{HF_REPO}")
    assert torch.equal(via_id.encode(wav, SR).codes, ref_codes)
    assert main(["convert", HF_REPO, str(tmp_path / "export")]) == 0  # codec convert REPO DIR
    assert torch.equal(load_model(str(tmp_path / "export")).encode(wav, SR).codes, ref_codes)
    with pytest.raises(ValueError, match="not in the local Hugging Face cache"):
        download_encodec_24khz(revision="v9", cache_dir=cache, local_files_only=True)
