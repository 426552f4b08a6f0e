"""A SEANet encoder + Vocos decoder codec: streams like the SEANet one, exports, resets."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from codec.model import Codec
from codec.vocos.decoder import VocosDecoder
from tests.conftest import stream_chunks
from tests.test_streaming import push
from tests.vocos.conftest import vocos_codec_config


def make_codec(seed: int = 0) -> Codec:
    torch.manual_seed(seed)
    codec = Codec(vocos_codec_config()).eval()
    assert isinstance(codec.decoder, VocosDecoder)
    return codec


@pytest.mark.parametrize("sizes", [[1], [8], [16], [24], [13], [24, 3, 0, 5], "random"])
def test_streaming_equals_offline(sizes: list[int] | str) -> None:
    """Chunks of 1, 2, 3 frames (hop 8), odd sample counts and random splits."""
    codec = make_codec()
    torch.manual_seed(1)
    wav = torch.randn(1, 1, 203) * 0.2
    if sizes == "random":
        rng = random.Random(0)
        sizes = [rng.randint(0, 40) for _ in range(50)]
    codes, audio = stream_chunks(codec, wav, sizes)  # type: ignore[arg-type]
    tokens = codec.encode(wav, 16000)
    assert torch.equal(codes, tokens.codes)
    offline = codec.decode(tokens)
    assert audio.shape == offline.shape == wav.shape
    torch.testing.assert_close(audio, offline, atol=1e-5, rtol=0)


def test_training_forward_keeps_the_input_length() -> None:
    codec = make_codec().train()
    wav = torch.randn(2, 1, 100) * 0.2
    out = codec(wav, lengths=torch.tensor([100, 60]))
    assert out.audio.shape == wav.shape
    out.audio.square().mean().backward()
    assert all(p.grad is not None for p in codec.decoder.parameters())


def test_export_round_trip(tmp_path: Path) -> None:
    codec = make_codec()
    codec.save_pretrained(tmp_path / "m")
    back = Codec.from_pretrained(tmp_path / "m")
    assert back.config == codec.config and isinstance(back.decoder, VocosDecoder)
    assert back.state_dict().keys() == codec.state_dict().keys()
    for key, value in codec.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    tokens = codec.encode(torch.randn(1, 1, 80) * 0.1, 16000)
    assert torch.equal(back.decode(tokens), codec.decode(tokens))
    assert "decoder: vocos" in (tmp_path / "m" / "README.md").read_text()


def test_session_reset_one_item() -> None:
    """After reset([True, False]) item 0 equals a new single stream, item 1 goes on."""
    codec = make_codec()
    torch.manual_seed(1)
    before, after = torch.randn(2, 1, 48) * 0.2, torch.randn(2, 1, 72) * 0.2
    sizes = [16, 8, 24]
    with codec.streaming(batch_size=2) as s:
        first = push(s, before, sizes)
        s.reset(torch.tensor([True, False]))
        second = push(s, after, sizes)
        tail = s.flush().audio
    with codec.streaming() as s:
        fresh = torch.cat([a for _, a in push(s, after[:1], sizes)] + [s.flush().audio], -1)
    with codec.streaming() as s:
        whole = push(s, torch.cat([before[1:], after[1:]], -1), sizes)
        whole_audio = torch.cat([a for _, a in whole] + [s.flush().audio], -1)
    reset_audio = torch.cat([a for _, a in second] + [tail], -1)
    torch.testing.assert_close(reset_audio[:1], fresh, atol=1e-5, rtol=0)
    other = torch.cat([a for _, a in first + second] + [tail], -1)[1:]
    torch.testing.assert_close(other, whole_audio, atol=1e-5, rtol=0)
