import random

import pytest
import torch

from codec.model import Codec
from tests.conftest import stream_chunks, tiny_config


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("sizes", [[1], [7], [8], [13], [24, 3, 0, 5], "random"])
def test_streaming_equals_offline(pad_mode: str, sizes: list[int] | str) -> None:
    torch.manual_seed(0)
    codec = Codec(tiny_config(pad_mode=pad_mode)).eval()
    wav = torch.randn(1, 1, 203) * 0.2
    if sizes == "random":
        rng = random.Random(0)
        sizes = [rng.randint(0, 40) for _ in range(50)]
    codes, audio = stream_chunks(codec, wav, sizes)  # type: ignore[arg-type]
    tokens = codec.encode(wav, 16000)
    assert torch.equal(codes, tokens.codes)
    offline = codec.decode(tokens)
    assert audio.shape == offline.shape
    torch.testing.assert_close(audio, offline, atol=1e-5, rtol=0)


def test_session_resets_between_streams() -> None:
    torch.manual_seed(0)
    codec = Codec(tiny_config()).eval()
    wav = torch.randn(1, 1, 64) * 0.2
    with codec.streaming() as s:
        first = torch.cat([s.encode_chunk(wav).codes, s.flush().tokens.codes], -1)
        second = torch.cat([s.encode_chunk(wav).codes, s.flush().tokens.codes], -1)
    assert torch.equal(first, second)


def test_non_causal_refuses_streaming() -> None:
    codec = Codec(tiny_config(causal=False, pad_mode="reflect")).eval()
    with pytest.raises(ValueError, match="non-causal"):
        codec.streaming()


def test_causal_latency_is_one_frame() -> None:
    torch.manual_seed(0)
    codec = Codec(tiny_config()).eval()
    with codec.streaming() as s:
        assert s.encode_chunk(torch.zeros(1, 1, codec.hop_length - 1)).num_frames == 0
        assert s.encode_chunk(torch.zeros(1, 1, 1)).num_frames == 1
