from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio import (
    Audio,
    AudioError,
    audio_info,
    convert_channels,
    load_audio,
    loudness_normalize,
    peak_normalize,
    resample,
    resampled_length,
    rms_db,
    save_audio,
)


def _tone(
    seconds: float = 0.5, sr: int = 16_000, freq: float = 440.0, channels: int = 1
) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    wav = 0.5 * torch.sin(2 * math.pi * freq * t)
    return wav.repeat(channels, 1)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    wav = _tone()
    path = save_audio(tmp_path / f"a{suffix}", wav, 16_000)
    audio = load_audio(path)
    assert isinstance(audio, Audio)
    assert audio.sample_rate == 16_000 and audio.wav.dtype == torch.float32
    assert audio.wav.shape == (1, wav.shape[-1])
    assert torch.allclose(audio.wav, wav, atol=1 / 2**15 + 1e-6)
    assert audio.duration == pytest.approx(0.5)
    assert audio_info(path).frames == wav.shape[-1]


def test_atomic_write_leaves_no_temp_and_refuses_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    save_audio(path, _tone(), 16_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    with pytest.raises(FileExistsError, match="force"):
        save_audio(path, _tone(freq=220.0), 16_000)
    save_audio(path, torch.zeros(1, 100), 16_000, force=True)
    assert load_audio(path).wav.shape == (1, 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "bad.wav", torch.full((1, 10), float("nan")), 16_000)
    with pytest.raises(ValueError, match="format"):
        save_audio(tmp_path / "bad.mp4", torch.zeros(1, 10), 16_000)
    assert list(tmp_path.iterdir()) == []


def test_save_clips_pcm_with_warning(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="clipping"):
        save_audio(tmp_path / "loud.wav", torch.full((1, 10), 2.0), 16_000)
    assert load_audio(tmp_path / "loud.wav").wav.max() <= 1.0


@pytest.mark.parametrize(
    ("from_sr", "to_sr"), [(16_000, 24_000), (24_000, 16_000), (44_100, 16_000)]
)
def test_resample_length_and_content(from_sr: int, to_sr: int) -> None:
    wav = _tone(0.37, from_sr, freq=300.0, channels=2)
    out = resample(wav, from_sr, to_sr)
    assert out.shape == (2, resampled_length(wav.shape[-1], from_sr, to_sr))
    assert out.shape[-1] == math.ceil(wav.shape[-1] * to_sr / from_sr)
    expected = _tone(0.37, to_sr, freq=300.0)[0, : out.shape[-1]]
    middle = slice(200, out.shape[-1] - 200)
    assert torch.allclose(out[0, middle], expected[middle], atol=2e-3)


def test_resample_batched_identity_and_empty() -> None:
    wav = torch.randn(3, 2, 1000)
    assert resample(wav, 16_000, 16_000) is wav
    assert resample(wav, 16_000, 8_000).shape == (3, 2, 500)
    assert resample(torch.zeros(1, 0), 16_000, 24_000).shape == (1, 0)


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT", "PCM_U8"])
def test_load_subtypes(tmp_path: Path, subtype: str) -> None:
    data = _tone(0.1).numpy().T
    path = tmp_path / "x.wav"
    sf.write(path, data, 16_000, subtype=subtype)
    wav = load_audio(path).wav
    tol = 1e-2 if subtype == "PCM_U8" else 1e-4
    assert torch.allclose(wav[0], torch.from_numpy(data[:, 0]), atol=tol)


def test_stereo_downmix_and_resample_on_load(tmp_path: Path) -> None:
    left, right = np.full(4800, 0.2, np.float32), np.full(4800, 0.6, np.float32)
    path = tmp_path / "st.flac"
    sf.write(path, np.stack([left, right], axis=1), 48_000, subtype="PCM_24")
    both = load_audio(path, mono=False)
    assert both.wav.shape == (2, 4800)
    mono = load_audio(path, sample_rate=16_000)
    assert mono.sample_rate == 16_000 and mono.wav.shape == (1, 1600)
    assert mono.wav[0, 100:-100].mean().item() == pytest.approx(0.4, abs=1e-3)


def test_partial_load(tmp_path: Path) -> None:
    path = save_audio(tmp_path / "a.wav", torch.arange(16_000)[None] / 16_000, 16_000)
    part = load_audio(path, offset=0.25, duration=0.5).wav
    assert part.shape == (1, 8000)
    assert part[0, 0].item() == pytest.approx(0.25, abs=1e-4)


def test_bad_files_raise_one_line_audio_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x01garbage" * 10)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16_000)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full((10, 1), np.nan, np.float32), 16_000, subtype="FLOAT")
    for path in [tmp_path / "missing.wav", corrupt, empty, nan]:
        with pytest.raises(AudioError) as info:
            load_audio(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
        assert isinstance(info.value, ValueError)


def test_channel_conversion() -> None:
    wav = torch.stack([torch.ones(10), 3 * torch.ones(10)])
    assert torch.equal(convert_channels(wav, 1), 2 * torch.ones(1, 10))
    assert convert_channels(torch.ones(1, 5), 2).shape == (2, 5)
    assert convert_channels(torch.ones(4, 2, 5), 1).shape == (4, 1, 5)
    with pytest.raises(ValueError):
        convert_channels(torch.ones(3, 5), 2)


def test_normalisation() -> None:
    wav = _tone() * 0.1
    assert peak_normalize(wav, -6.0).abs().max().item() == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    assert torch.equal(peak_normalize(torch.zeros(1, 10)), torch.zeros(1, 10))
    quiet = loudness_normalize(wav, target_db=-20.0)
    assert rms_db(quiet) == pytest.approx(-20.0, abs=0.01)
    limited = loudness_normalize(wav, target_db=0.0, peak_db=-1.0)
    assert limited.abs().max().item() == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    capped = loudness_normalize(wav * 1e-6, target_db=-20.0, max_gain_db=10.0)
    assert rms_db(capped) == pytest.approx(rms_db(wav * 1e-6) + 10.0, abs=0.01)
