from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec.audio import save_audio
from codec.data import AudioCropDataset, Augment, random_aligned_crop, scan_audio_folder
from codec.data.augment import speed_perturb

SR = 16_000


def tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return (0.5 * torch.sin(2 * math.pi * freq * t))[None]


def peak_hz(wav: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(wav[0] * torch.hann_window(wav.shape[-1])).abs()
    return float(torch.argmax(spectrum)) * SR / wav.shape[-1]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("aug")
    for i, seconds in enumerate([1.0, 1.6, 0.5, 2.2]):
        wav = tone(150 + 40 * i, seconds) * torch.linspace(0.2, 1.0, int(seconds * SR))
        save_audio(folder / f"f{i}.wav", wav, SR)
    return scan_audio_folder(folder)


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_speed_scales_length_and_pitch(factor: float) -> None:
    out = speed_perturb(tone(200.0), SR, factor)
    assert out.dtype == torch.float32 and out.shape[0] == 1
    assert abs(out.shape[-1] - SR / factor) <= 1
    assert abs(peak_hz(out) - 200.0 * factor) <= 2.0


def test_speed_one_is_identity_and_bad_factors_are_refused() -> None:
    wav = tone(300.0)
    assert speed_perturb(wav, SR, 1.0) is wav
    with pytest.raises(ValueError, match="speed"):
        Augment(speeds=(0.9, 3.0))
    with pytest.raises(ValueError, match="gain_db"):
        Augment(gain_db=-1.0)


def test_gain_stays_in_range_and_below_full_scale() -> None:
    augment = Augment(gain_db=12.0)
    wav = tone(250.0) * 0.1
    for i in range(20):
        out = augment(wav, SR, np.random.default_rng(i))
        ratio = float(out.abs().max() / wav.abs().max())
        assert 10 ** (-12 / 20) - 1e-6 <= ratio <= 10 ** (12 / 20) + 1e-6
    loud = augment(tone(250.0) * 1.8, SR, np.random.default_rng(0))
    assert float(loud.abs().max()) <= 1.0 + 1e-6


def test_off_is_todays_crop(records: list) -> None:
    """No augmentation (None or a disabled one) gives exactly the un-augmented crops."""
    plain = AudioCropDataset(records, SR, 160, 8, seed=3)
    disabled = AudioCropDataset(records, SR, 160, 8, seed=3, augment=Augment())
    for epoch in (0, 2):
        plain.set_epoch(epoch), disabled.set_epoch(epoch)
        for i in range(len(records)):
            wav = plain.load(i)
            assert wav is not None
            rng = np.random.default_rng([3, epoch, i])
            expected = random_aligned_crop(wav, 160, 8, rng)
            for item in (plain[i], disabled[i]):
                assert item is not None and item.length == expected.length
                assert torch.equal(item.wav, expected.wav)


def test_augmented_crops_are_deterministic_per_epoch(records: list) -> None:
    augment = Augment(speeds=(0.9, 1.0, 1.1), gain_db=3.0)
    a = AudioCropDataset(records, SR, 160, 8, seed=1, augment=augment)
    b = AudioCropDataset(records, SR, 160, 8, seed=1, augment=augment)
    plain = AudioCropDataset(records, SR, 160, 8, seed=1)
    first = [a[i] for i in range(len(a))]
    b.set_epoch(5), b.set_epoch(0)  # only the current epoch matters
    again = [b[len(b) - 1 - i] for i in range(len(b))][::-1]  # other order, same items
    for x, y, p in zip(first, again, (plain[i] for i in range(len(plain)))):
        assert x is not None and y is not None and p is not None
        assert torch.equal(x.wav, y.wav) and x.length == y.length
        assert x.wav.shape == p.wav.shape == (1, 8 * 160)
        assert x.length <= 8 * 160
    assert any(not torch.equal(x.wav, p.wav) for x, p in zip(first, (plain[i] for i in range(4))))
    b.set_epoch(1)
    assert any(not torch.equal(x.wav, b[i].wav) for i, x in enumerate(first))


def test_short_file_length_follows_the_speed(records: list) -> None:
    """The 0.5 s file is shorter than a 1 s crop: its real length is 0.5 s / speed."""
    short = [r for r in records if r.path.name == "f2.wav"]
    for speed in (0.9, 1.1):
        ds = AudioCropDataset(short, SR, 160, 100, augment=Augment(speeds=(speed,)))
        item = ds[0]
        assert item is not None and abs(item.length - 0.5 * SR / speed) <= 1
        assert torch.count_nonzero(item.wav[..., item.length :]) == 0
