from dataclasses import replace
from pathlib import Path

import pytest
import torch

from codec.model import Codec
from codec.tokens import Tokens
from tests.conftest import make_codec, tiny_config


def test_properties() -> None:
    codec = make_codec()
    assert codec.hop_length == 8
    assert codec.frame_rate == 2000.0
    assert codec.num_codebooks == 4
    assert codec.bitrate() == pytest.approx(2000 * 4 * 5)
    assert codec.bitrate(2) == pytest.approx(2000 * 2 * 5)


def test_encode_decode_shapes_and_lengths() -> None:
    codec = make_codec()
    wav = torch.randn(2, 1, 100) * 0.1
    tokens = codec.encode(wav, 16000, lengths=torch.tensor([100, 37]))
    assert tokens.codes.shape == (2, 4, 13)
    assert tokens.lengths.tolist() == [13, 5]
    audio = codec.decode(tokens)
    assert audio.shape == (2, 1, 100)
    assert torch.all(audio[1, :, 37:] == 0)


@pytest.mark.parametrize(
    "causal,pad_mode", [(True, "constant"), (True, "reflect"), (False, "reflect")]
)
def test_batched_equals_single(causal: bool, pad_mode: str) -> None:
    codec = make_codec(causal=causal, pad_mode=pad_mode)
    torch.manual_seed(1)
    lengths = [120, 57, 13]
    items = [torch.randn(1, n) * 0.2 for n in lengths]
    batch = torch.randn(3, 1, 120)  # garbage after each item's length must not matter
    for i, item in enumerate(items):
        batch[i, :, : item.shape[-1]] = item
    tokens = codec.encode(batch, 16000, lengths=torch.tensor(lengths))
    for i, item in enumerate(items):
        alone = codec.encode(item, 16000)
        n = int(alone.lengths[0])
        assert int(tokens.lengths[i]) == n
        assert torch.equal(tokens.codes[i, :, :n], alone.codes[0])


def test_num_codebooks_truncation() -> None:
    codec = make_codec()
    wav = torch.randn(1, 1, 64) * 0.1
    full = codec.encode(wav, 16000)
    half = codec.encode(wav, 16000, num_codebooks=2)
    assert torch.equal(half.codes, full.truncate(2).codes)
    assert codec.decode(half).shape == (1, 1, 64)


@pytest.mark.parametrize(
    "wav,match",
    [
        (torch.zeros(0), "empty"),
        (torch.zeros(4), "too short"),
        (torch.full((1, 64), float("nan")), "NaN"),
        (torch.full((1, 64), float("inf")), "NaN or infinite"),
        (torch.zeros(1, 64, dtype=torch.int16), "floating point"),
        (torch.zeros(1, 1, 1, 64), "shape"),
    ],
)
def test_bad_input(wav: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_codec().encode(wav, 16000)


def test_wrong_rate_without_permission() -> None:
    codec = make_codec()
    with pytest.raises(ValueError, match="resample_input"):
        codec.encode(torch.zeros(1, 800), 8000, resample_input=False)
    tokens = codec.encode(torch.randn(1, 800) * 0.1, 8000)
    assert int(tokens.num_samples[0]) == 1600


def test_decode_rejects_foreign_and_out_of_range() -> None:
    codec = make_codec()
    tokens = codec.encode(torch.randn(1, 64) * 0.1, 16000)
    with pytest.raises(ValueError, match="out of range"):
        codec.decode(replace(tokens, codes=tokens.codes + 32))
    with pytest.raises(ValueError, match="another model"):
        codec.decode(replace(tokens, codebook_size=1024))
    with pytest.raises(ValueError, match="another model"):
        codec.decode(replace(tokens, sample_rate=24000, frame_rate=3000.0))


def test_stereo_input_is_downmixed() -> None:
    codec = make_codec()
    mono = torch.randn(1, 96) * 0.1
    stereo = torch.cat([mono, mono])
    assert torch.equal(codec.encode(stereo, 16000).codes, codec.encode(mono, 16000).codes)


def test_save_load_round_trip(tmp_path: Path) -> None:
    codec = make_codec()
    codec.save_pretrained(tmp_path / "m")
    back = Codec.from_pretrained(tmp_path / "m")
    for key, value in codec.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    wav = torch.randn(1, 1, 80) * 0.1
    assert torch.equal(back.encode(wav, 16000).codes, codec.encode(wav, 16000).codes)
    with pytest.raises(FileExistsError):
        codec.save_pretrained(tmp_path / "m")


def test_load_refuses_bad_config_and_shapes(tmp_path: Path) -> None:
    import json

    codec = make_codec()
    out = codec.save_pretrained(tmp_path / "m")
    meta = json.loads((out / "config.json").read_text())
    meta["config"]["quantizer"]["bogus"] = 1
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="bogus"):
        Codec.from_pretrained(out)
    del meta["config"]["quantizer"]["bogus"]
    meta["config"]["quantizer"]["codebook_size"] = 64
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="shape"):
        Codec.from_pretrained(out)


def test_tokens_file_round_trip_decodes_identically(tmp_path: Path) -> None:
    codec = make_codec()
    tokens = codec.encode(torch.randn(1, 1, 77) * 0.1, 16000)
    tokens.save(tmp_path / "a.tok")
    back = Tokens.load(tmp_path / "a.tok")
    assert torch.equal(codec.decode(back), codec.decode(tokens))


def test_forward_straight_through_gradients() -> None:
    codec = Codec(tiny_config()).train()
    wav = torch.randn(2, 1, 64) * 0.1
    out = codec(wav, torch.tensor([64, 40]))
    assert out.audio.shape == wav.shape
    out.audio.square().mean().backward()
    grads = [p.grad for p in codec.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("causal", [True, False])
def test_cpu_batch_groups_give_the_same_result(
    causal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large CPU batches run in groups (allocator-friendly sizes): same tokens and audio."""
    import codec.model

    codec_model = make_codec(causal=causal, pad_mode="reflect")
    wav = torch.randn(5, 1, 400) * 0.2
    whole = codec_model.encode(wav, 16000)
    audio = codec_model.decode(whole)
    width = 400 * codec_model.config.seanet.n_filters * 4
    monkeypatch.setattr(codec.model, "CPU_GROUP_BYTES", 2 * width)  # groups of 2, 2, 1
    assert [g.stop - g.start for g in codec_model.batch_groups(5, 400)] == [2, 2, 1]
    grouped = codec_model.encode(wav, 16000)
    assert torch.equal(grouped.codes, whole.codes)
    assert (codec_model.decode(grouped) - audio).abs().max() <= 1e-6


def test_encode_many_short_reflect_item_goes_alone() -> None:
    """The one batching rule (``lookahead``): a reflect-padded causal model encodes an item
    no longer than its look-ahead alone, so encode_many equals items encoded one by one."""
    codec = make_codec(pad_mode="reflect")
    torch.manual_seed(2)
    items = [torch.randn(1, n) * 0.2 for n in (200, 40, 96)]
    assert 40 <= codec.lookahead < 96 < 200  # one short item, one long enough to batch
    tokens = codec.encode_many(items)
    for i, item in enumerate(items):
        alone = codec.encode(item, 16000)
        assert torch.equal(tokens.item(i).codes, alone.codes)
    # Without the rule the short item would see the padding after it: the rule is needed.
    batch = torch.zeros(3, 1, 200)
    for i, item in enumerate(items):
        batch[i, :, : item.shape[-1]] = item
    padded = codec.encode_frames(batch, codec.num_codebooks)
    assert not torch.equal(padded[1:2, :, :5], tokens.item(1).codes)


def test_frame_api_offline_and_streaming() -> None:
    """encode_frames / decode_codes: offline they equal encode / decode; inside
    open_streams the same calls carry history, and ``final`` ends the stream."""
    codec = make_codec()
    wav = torch.randn(1, 1, 64) * 0.2
    tokens = codec.encode(wav, 16000)
    with torch.no_grad():
        codes = codec.encode_frames(wav, 4)
        assert torch.equal(codes, tokens.codes)
        assert torch.equal(codec.decode_codes(codes), codec.decode(tokens))
        with codec.open_streams(1):
            streamed = [codec.encode_frames(wav[..., :24], 4)]
            streamed.append(codec.encode_frames(wav[..., 24:], 4, final=True))
            with pytest.raises(RuntimeError, match="already"), codec.open_streams(1):
                pass
    assert torch.equal(torch.cat(streamed, -1), codes)
    offline_only = make_codec(causal=False, pad_mode="reflect")
    with pytest.raises(ValueError, match="non-causal"), offline_only.open_streams(1):
        pass


@pytest.mark.parametrize("kind", ["vq", "simvq", "fsq"])
def test_every_quantizer_kind_trains_saves_and_loads(kind: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = Codec(tiny_config(kind=kind)).train()
    wav = torch.randn(2, 1, 96) * 0.1
    out = codec(wav, torch.tensor([96, 50]))
    expected = {"vq": {"vq/commit"}, "simvq": {"vq/commit", "vq/codebook"}, "fsq": {"vq/commit"}}
    assert set(out.vq.losses) == expected[kind]
    (out.audio.square().mean() + out.vq.loss).backward()
    assert any(p.grad is not None for p in codec.quantizer.parameters()) == (kind != "vq")
    codec.eval()
    tokens = codec.encode(wav, 16000)
    assert tokens.codes.shape == (2, 4, 12) and int(tokens.codes.max()) < 32
    audio = codec.decode(tokens)
    back = Codec.from_pretrained(codec.save_pretrained(tmp_path / kind))
    assert back.config.quantizer == codec.config.quantizer
    assert type(back.quantizer) is type(codec.quantizer)
    assert torch.equal(back.encode(wav, 16000).codes, tokens.codes)
    assert torch.equal(back.decode(tokens), audio)
    tokens.save(tmp_path / "a.tok")
    assert torch.equal(back.decode(Tokens.load(tmp_path / "a.tok")), audio)
