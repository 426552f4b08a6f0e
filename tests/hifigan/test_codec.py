"""A hifigan Codec: encode/decode, save/load round trip, streaming refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from codec.config import CodecConfig, QuantizerConfig
from codec.hifigan import HiFiGANEncoder, HiFiGANGenerator
from codec.model import Codec
from codec.quantize.config import CodebookConfig
from tests.hifigan.conftest import small_codec_config
from tests.hifigan.counts import (
    published_encoder_params,
    published_generator_params,
    published_quantizer_params,
)


def test_builders_pick_the_architecture() -> None:
    codec = Codec(small_codec_config())
    assert isinstance(codec.encoder, HiFiGANEncoder)
    assert isinstance(codec.decoder, HiFiGANGenerator)
    assert codec.hop_length == 320 and codec.frame_rate == 50.0 and codec.channels == 1


def test_encode_decode_any_length() -> None:
    codec = Codec(small_codec_config()).eval()
    tokens = codec.encode(torch.randn(2, 1, 1000), 16000, lengths=torch.tensor([1000, 700]))
    assert tokens.codes.shape == (2, 4, 4) and tokens.lengths.tolist() == [4, 3]
    audio = codec.decode(tokens)
    assert audio.shape == (2, 1, 1000) and torch.isfinite(audio).all()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = Codec(small_codec_config()).eval()
    codec.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["config"]["architecture"] == "hifigan"
    loaded = Codec.from_pretrained(tmp_path / "m")
    assert loaded.config == codec.config
    wav = torch.randn(1, 1, 1600)
    assert torch.equal(loaded.encode(wav, 16000).codes, codec.encode(wav, 16000).codes)
    state, other = codec.state_dict(), loaded.state_dict()
    assert all(torch.equal(state[k], other[k]) for k in state)


def test_streaming_is_refused_in_one_line() -> None:
    codec = Codec(small_codec_config())
    with pytest.raises(ValueError, match="architecture=hifigan cannot stream"):
        codec.streaming(1)
    with pytest.raises(ValueError, match="cannot stream"), codec.open_streams(1):
        pass


def test_published_model_size() -> None:
    """The whole 2 kbps HiFi-Codec: encoder + GRVQ (2 x 2 x 1024 on 256 dims) + generator."""
    codebook = CodebookConfig(ema=False, kmeans_init=False)
    quantizer = QuantizerConfig(groups=2, num_levels=2, codebook_size=1024, codebook=codebook)
    codec = Codec(CodecConfig(sample_rate=16000, architecture="hifigan", quantizer=quantizer))
    ours = sum(p.numel() for p in codec.parameters())
    published = (
        published_encoder_params() + published_generator_params() + published_quantizer_params()
    )
    print(f"HiFi-Codec 16 kHz 2 kbps: ours {ours:,} parameters, published layout {published:,}")
    assert ours == published
    assert codec.bitrate() == 2000.0
