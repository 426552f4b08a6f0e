import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from codec.audio import AudioError, audio_info, save_audio
from codec.model import Codec
from codec.streaming import StreamingSession, decode_blocks, encode_blocks, stream_codec
from tests.conftest import make_codec, stream_chunks, tiny_config


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


@pytest.mark.parametrize("kind", ["simvq", "fsq"])
def test_streaming_equals_offline_for_every_quantizer_kind(kind: str) -> None:
    torch.manual_seed(0)
    codec = Codec(tiny_config(kind=kind)).eval()
    wav = torch.randn(2, 1, 203) * 0.2
    codes, audio = stream_chunks(codec, wav, [7, 24, 3])
    tokens = codec.encode(wav, 16000)
    assert torch.equal(codes, tokens.codes)
    torch.testing.assert_close(audio, codec.decode(tokens), atol=1e-5, rtol=0)


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


def push(
    session: StreamingSession, wav: torch.Tensor, sizes: list[int]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Encode ``wav`` [B, C, T] in chunks of ``sizes`` (cycled) and decode each; returns
    the new codes and audio per chunk."""
    out, start, i = [], 0, 0
    while start < wav.shape[-1]:
        end = min(start + sizes[i % len(sizes)], wav.shape[-1])
        new = session.encode_chunk(wav[..., start:end])
        out.append((new.codes, session.decode_chunk(new)))
        start, i = end, i + 1
    return out


def test_reset_one_item_starts_a_fresh_stream() -> None:
    """After reset([True, False]) item 0 equals a new single stream, item 1 goes on."""
    codec = make_codec()
    torch.manual_seed(1)
    before, after = torch.randn(2, 1, 48) * 0.2, torch.randn(2, 1, 72) * 0.2
    sizes = [16, 8, 24]  # whole frames (hop 8)
    with codec.streaming(batch_size=2) as s:
        first = push(s, before, sizes)
        s.reset(torch.tensor([True, False]))
        second = push(s, after, sizes)
        tail = s.flush()
    with codec.streaming() as s:
        fresh = push(s, after[:1], sizes)
        fresh_tail = s.flush()
    with codec.streaming() as s:
        whole = push(s, torch.cat([before[1:], after[1:]], -1), sizes)
        whole_tail = s.flush()
    batched = [(c[:1], a[:1]) for c, a in second] + [(tail.tokens.codes[:1], tail.audio[:1])]
    alone = fresh + [(fresh_tail.tokens.codes, fresh_tail.audio)]
    other = [(c[1:], a[1:]) for c, a in first + second]
    other += [(tail.tokens.codes[1:], tail.audio[1:])]
    uninterrupted = whole + [(whole_tail.tokens.codes, whole_tail.audio)]
    for got, want in [(batched, alone), (other, uninterrupted)]:
        assert torch.equal(torch.cat([c for c, _ in got], -1), torch.cat([c for c, _ in want], -1))
        audio, expected = torch.cat([a for _, a in got], -1), torch.cat([a for _, a in want], -1)
        torch.testing.assert_close(audio, expected, atol=1e-5, rtol=0)


def test_reset_refuses_what_it_cannot_do() -> None:
    codec = make_codec()
    with codec.streaming(batch_size=2) as s:
        s.encode_chunk(torch.zeros(2, 1, 12))
        with pytest.raises(ValueError, match="whole frames"):
            s.reset(torch.tensor([True, False]))
        with pytest.raises(ValueError, match="2 streams"):
            s.reset(torch.tensor([True]))
    reflect = make_codec(pad_mode="reflect")
    wav = torch.randn(2, 1, 128) * 0.2
    with reflect.streaming(batch_size=2) as s:
        codes = [s.encode_chunk(wav[..., :64]).codes]
        with pytest.raises(ValueError, match="constant"):
            s.reset(torch.tensor([False, True]))
        codes += [s.encode_chunk(wav[..., 64:]).codes, s.flush().tokens.codes]
    # A refused reset changes nothing: the streams go on as if it was never asked.
    assert torch.equal(torch.cat(codes, -1), reflect.encode(wav, 16000).codes)


def test_long_file_and_live_helpers_equal_offline(tmp_path: Path) -> None:
    """encode_blocks / decode_blocks / stream_codec: bounded memory, offline results."""
    codec = make_codec()
    torch.manual_seed(3)
    wav = torch.randn(1, 1, 1003) * 0.2
    save_audio(tmp_path / "a.wav", wav[0], 16000, subtype="FLOAT")
    offline = codec.encode(wav, 16000)
    blocks = encode_blocks(codec, tmp_path / "a.wav", audio_info(tmp_path / "a.wav"), 4, 0.01)
    assert torch.equal(blocks.codes, offline.codes)
    assert torch.equal(blocks.num_samples, offline.num_samples)
    audio = torch.cat(list(decode_blocks(codec, offline, frames=7)), -1)
    torch.testing.assert_close(audio, codec.decode(offline)[0], atol=1e-5, rtol=0)
    heard: list[torch.Tensor] = []
    result = stream_codec(codec, wav[0].split(100, -1), on_audio=heard.append)
    assert torch.equal(result.tokens.codes, offline.codes)
    assert result.samples == 1003 and len(result.latencies) == 11
    torch.testing.assert_close(torch.cat(heard, -1), codec.decode(offline), atol=1e-5, rtol=0)
    with pytest.raises(AudioError, match="too short"):
        stream_codec(codec, [torch.zeros(1, 3)])


def test_token_buffers_are_compact(tmp_path: Path) -> None:
    """Codes of a 1024-entry codebook stay int16 in the long-file and streaming buffers:
    2 bytes per code, a quarter of int64 (12 codebooks at 50 frames/s: 72 kB per minute)."""
    codec = make_codec(0, codebook_size=1024)
    wav = torch.randn(1, 1, 16000) * 0.1
    result = stream_codec(codec, [wav[0, :, i : i + 1000] for i in range(0, 16000, 1000)])
    codes = result.tokens.codes
    assert codes.dtype == torch.int16
    frames, k = codes.shape[-1], codes.shape[1]
    assert codes.nbytes == frames * k * 2
    per_minute = codes.nbytes / frames * 60 * codec.frame_rate
    assert per_minute == 60 * codec.frame_rate * codec.num_codebooks * 2
    assert torch.equal(codes.long(), codec.encode(wav, 16000).codes.long())
    save_audio(tmp_path / "a.wav", wav[0], 16000)
    blocks = encode_blocks(codec, tmp_path / "a.wav", audio_info(tmp_path / "a.wav"), k, 0.25)
    assert blocks.codes.dtype == torch.int16 and torch.equal(blocks.codes, codes)
    assert torch.equal(codec.decode(blocks), codec.decode(replace(blocks)))


def test_chunks_carry_the_fingerprint_looked_up_once_per_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Collecting the state dict to check the cached fingerprint cost ~15 % of 1-frame
    streaming when done per chunk: a session does it once, when it opens."""
    codec = make_codec()
    expected = codec.fingerprint
    calls = []
    original = codec.state_dict
    monkeypatch.setattr(codec, "state_dict", lambda *a, **k: calls.append(1) or original(*a, **k))
    with codec.streaming(batch_size=1) as session:
        tokens = [session.encode_chunk(torch.zeros(1, 1, 40)) for _ in range(5)]
    assert all(t.model_fingerprint == expected for t in tokens)
    assert len(calls) == 1
