"""Opus, the telephone band and the ``--baselines`` parser."""

from __future__ import annotations

import pytest
import torch

from codec.eval.baselines import (
    OpusSystem,
    ResampleSystem,
    ogg_payload_bytes,
    opus_bitrate,
    opus_level,
    parse_baselines,
    parse_bitrate,
)
from codec.eval.scores import utterance_metrics

from .conftest import SR

pytest.importorskip("pesq")
pytest.importorskip("pystoi")


def test_opus_round_trip_length_and_bitrate(speech: torch.Tensor) -> None:
    assert opus_bitrate(opus_level(12000)) == pytest.approx(12000)
    assert opus_level(1000) == 1.0 and opus_level(10**6) == 0.0
    system = OpusSystem(6000)
    out = system.process(speech, SR)
    assert out.audio.shape == speech.shape
    assert out.file_bytes is not None and out.payload_bytes is not None
    seconds = speech.shape[-1] / SR
    assert 4000 < out.payload_bytes * 8 / seconds < 8000  # ~6 kbps of Opus packets
    assert out.file_bytes > out.payload_bytes  # Ogg headers on top
    scores, _ = utterance_metrics(out.audio, speech, SR, ["stoi"])
    assert scores["stoi"] > 0.8
    odd_rate = OpusSystem(12000).process(torch.randn(22050) * 0.1, 22050)  # -> 24 kHz Opus
    assert odd_rate.audio.shape == (22050,)
    with pytest.raises(ValueError):
        ogg_payload_bytes(b"not ogg")


def test_telephone_band(speech: torch.Tensor) -> None:
    pcm = ResampleSystem(8000).process(speech, SR)
    ulaw = ResampleSystem(8000, "ULAW").process(speech, SR)
    seconds = speech.shape[-1] / SR
    assert pcm.audio.shape == ulaw.audio.shape == speech.shape
    assert pcm.payload_bytes * 8 / seconds == pytest.approx(128000, rel=0.01)  # type: ignore[operator]
    assert ulaw.payload_bytes * 8 / seconds == pytest.approx(64000, rel=0.01)  # type: ignore[operator]
    spectrum = torch.fft.rfft(pcm.audio).abs()
    freqs = torch.fft.rfftfreq(speech.shape[-1], 1 / SR)
    assert spectrum[freqs > 4200].max() < 0.01 * spectrum.max()  # band-limited to 4 kHz


def test_parse_baselines() -> None:
    systems, notes = parse_baselines("opus,8k", codec_bitrates=[2000, 8000])
    names = [s.name for s in systems]
    assert names == ["opus 6 kbps", "opus 8 kbps", "opus 12 kbps", "8 kHz 16-bit PCM"]
    assert notes and "below 6 kbps" in notes[0]
    systems, _ = parse_baselines("opus:9k,ulaw,resample:4k")
    assert [s.name for s in systems] == ["opus 9 kbps", "8 kHz G.711 mu-law", "4 kHz 16-bit PCM"]
    assert parse_baselines("none") == ([], [])
    assert parse_bitrate("1.5kbps") == 1500 and parse_bitrate("6000") == 6000
    with pytest.raises(ValueError):
        parse_baselines("mp3")
