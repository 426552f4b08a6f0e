from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from codec.audio import save_audio
from codec.data import (
    AudioBatch,
    AudioCollate,
    AudioCropDataset,
    AudioItem,
    AudioRecord,
    LengthBucketBatchSampler,
    UtteranceDataset,
    collate_audio,
    scan_audio_folder,
    synthetic_speech,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six good files at 24 kHz (one stereo), plus corrupt, empty, silent and too-short ones."""
    tmp_path = tmp_path_factory.mktemp("audio")
    for i, seconds in enumerate([1.0, 0.7, 1.3, 0.4, 2.0]):
        save_audio(tmp_path / f"good{i}.wav", synthetic_speech(seconds, 24_000, seed=i), 24_000)
    stereo = synthetic_speech(0.9, 24_000, seed=9).repeat(2, 1)
    save_audio(tmp_path / "good_stereo.flac", stereo, 24_000)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 24_000)
    save_audio(tmp_path / "silent.wav", torch.zeros(1, 24_000), 24_000)
    save_audio(tmp_path / "short.wav", synthetic_speech(0.005, 24_000), 24_000)
    return tmp_path


def _records(folder: Path) -> list[AudioRecord]:
    """All files; the scanner leaves out the corrupt one (unreadable header), so add it."""
    return [*scan_audio_folder(folder), AudioRecord(folder / "corrupt.wav", 1.0, 24_000)]


def _good(folder: Path) -> list[AudioRecord]:
    return [r for r in scan_audio_folder(folder) if r.path.name.startswith("good")]


def test_crops_are_hop_aligned_and_frame_sized(folder: Path) -> None:
    for hop in (320, 1920):  # 75 Hz and 12.5 Hz at 24 kHz: same tokens per crop
        ds = AudioCropDataset(scan_audio_folder(folder, extensions=[".flac"]), 16_000, hop, 10)
        item = ds[0]
        assert isinstance(item, AudioItem)
        assert item.wav.shape == (1, 10 * hop) and item.wav.dtype == torch.float32
    ds = AudioCropDataset(
        _records(folder), 16_000, hop_length=160, frames_per_crop=50, min_frames=4
    )
    good = [i for i, r in enumerate(ds.records) if r.path.name.startswith("good")]
    for i in good:
        item = ds[i]
        assert item is not None and item.index == i and item.wav.shape == (1, 8000)
        full = ds.load(i)
        assert full is not None
        starts = [
            s
            for s in range(0, full.shape[-1] - item.length + 1, 160)
            if torch.equal(full[:, s : s + item.length], item.wav[:, : item.length])
        ]
        assert starts, "crop must start on a hop boundary"
        assert item.length == min(8000, full.shape[-1])


def test_reproducible_and_epoch_dependent(folder: Path) -> None:
    records = _good(folder)
    a = AudioCropDataset(records, 16_000, 160, 20, seed=1)
    b = AudioCropDataset(records, 16_000, 160, 20, seed=1)
    first = [a[i].wav for i in range(len(a))]
    assert all(torch.equal(x, b[i].wav) for i, x in enumerate(first))
    b.set_epoch(1)
    assert any(not torch.equal(x, b[i].wav) for i, x in enumerate(first))


def test_bad_files_are_skipped_and_counted_through_a_dataloader(folder: Path) -> None:
    ds = AudioCropDataset(
        _records(folder), 16_000, hop_length=160, frames_per_crop=20, min_frames=4
    )
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=0, collate_fn=AudioCollate())
    with pytest.warns(RuntimeWarning, match="skipped 1 unusable file"):
        batches = list(loader)
    assert all(isinstance(b, AudioBatch) for b in batches)
    assert sum(len(b) for b in batches) == len(ds)  # bad items replaced by good ones
    assert ds.skipped == {"unreadable": 2, "silent": 1, "too_short": 1}
    assert ds.num_skipped == 4 and len(ds.bad_indices) == 4
    good = {i for i, r in enumerate(ds.records) if r.path.name.startswith("good")}
    assert {int(i) for b in batches for i in b.indices} <= good
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no re-reading of bad files
        list(loader)
    assert ds.num_skipped == 4


def test_all_bad_gives_none_and_empty_batch(folder: Path) -> None:
    records = [r for r in _records(folder) if not r.path.name.startswith("good")]
    ds = AudioCropDataset(records, 16_000, 160, 10, min_frames=4)
    with pytest.warns(RuntimeWarning):
        items = [ds[i] for i in range(len(ds))]
    assert items == [None] * len(ds)
    batch = collate_audio(items)
    assert len(batch) == 0 and batch.wav.shape == (0, 1, 0)


def test_normalisation_options(folder: Path) -> None:
    records = scan_audio_folder(folder, extensions=[".flac"])
    peak = AudioCropDataset(records, 24_000, 240, 400, normalize="peak", peak_db=-6.0)
    assert peak.load(0).abs().max().item() == pytest.approx(10 ** (-6 / 20), rel=1e-3)
    loud = AudioCropDataset(records, 24_000, 240, 400, normalize="loudness", loudness_db=-30.0)
    wav = loud.load(0)
    assert 10 * np.log10(wav.pow(2).mean().item()) == pytest.approx(-30.0, abs=0.1)
    stereo = AudioCropDataset(records, 24_000, 240, 4, channels=2)
    assert stereo[0].wav.shape == (2, 960)
    with pytest.raises(ValueError):
        AudioCropDataset(records, 24_000, 240, 4, normalize="lufs")  # type: ignore[arg-type]


def test_validation_set_is_deterministic_full_utterances(folder: Path) -> None:
    records = _good(folder)
    val = UtteranceDataset(records[::-1], 16_000, max_items=3)
    again = UtteranceDataset(records, 16_000, max_items=3)
    assert [r.path for r in val.records] == [r.path for r in again.records]
    assert len(val) == 3
    loader = DataLoader(val, batch_size=2, collate_fn=AudioCollate(pad_multiple=160))
    batches = list(loader)
    for batch in batches:
        assert batch.wav.shape[-1] % 160 == 0
        assert batch.wav.shape[-1] >= int(batch.lengths.max())
        assert batch.mask.sum().item() == int(batch.lengths.sum())
    for i, record in enumerate(val.records):
        item = val[i]
        assert item is not None and item.length == round(record.duration * 16_000)
    capped = UtteranceDataset(records, 16_000, max_seconds=0.5, hop_length=160)
    assert all(capped[i].length <= 8000 for i in range(len(capped)))


def test_bucketed_validation_loader(folder: Path) -> None:
    val = UtteranceDataset(scan_audio_folder(folder), 16_000)
    sampler = LengthBucketBatchSampler(
        [r.duration for r in val.records], batch_size=2, num_buckets=3
    )
    with pytest.warns(RuntimeWarning):
        batches = list(DataLoader(val, batch_sampler=sampler, collate_fn=collate_audio))
    bad = ("corrupt.wav", "empty.wav", "silent.wav")
    good = [i for i, r in enumerate(val.records) if r.path.name not in bad]
    assert sorted(int(i) for b in batches for i in b.indices) == good  # bad files dropped
    assert val.num_skipped == len(val) - len(good)
    batch = batches[0].to("cpu")
    assert batch.wav.ndim == 3 and batch.lengths.dtype == torch.long
