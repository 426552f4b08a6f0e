"""Datasets over :class:`~codec.data.manifest.AudioRecord` s: random hop-aligned training crops
and deterministic full-utterance validation items.

Files that cannot be used (unreadable, empty, NaN, silent, too short) never crash an epoch:
they are counted in ``dataset.skipped`` (a ``Counter`` by reason), remembered so they are not
re-read, reported by one ``RuntimeWarning``, and replaced by another file (training) or
returned as ``None`` (dropped by :class:`~codec.data.collate.AudioCollate`). With
``num_workers > 0`` each worker has its own copy of the counters.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from codec.audio import AudioError, convert_channels, load_audio, loudness_normalize, peak_normalize
from codec.choices import Normalize
from codec.data.augment import Augment
from codec.data.collate import AudioItem
from codec.data.crops import crop_samples, random_aligned_crop
from codec.data.manifest import AudioRecord

__all__ = ["AudioCropDataset", "AudioDatasetBase", "Normalize", "UtteranceDataset"]

logger = logging.getLogger(__name__)


class AudioDatasetBase(Dataset[AudioItem | None]):
    """Shared loading: read, downmix/upmix to ``channels``, resample to ``sample_rate``,
    optionally normalise (``"peak"`` to ``peak_db``, ``"loudness"`` to ``loudness_db`` RMS),
    and reject unusable files (see module docstring)."""

    def __init__(
        self,
        records: Sequence[AudioRecord],
        sample_rate: int,
        channels: int = 1,
        normalize: Normalize = "none",
        peak_db: float = -1.0,
        loudness_db: float = -23.0,
        min_samples: int = 1,
        silence_db: float = -60.0,
    ) -> None:
        if normalize not in ("none", "peak", "loudness"):
            raise ValueError(f"normalize must be 'none', 'peak' or 'loudness', got {normalize!r}")
        self.records = list(records)
        self.sample_rate = sample_rate
        self.channels = channels
        self.normalize: Normalize = normalize
        self.peak_db = peak_db
        self.loudness_db = loudness_db
        self.min_samples = min_samples
        self.silence_db = silence_db
        self.skipped: Counter[str] = Counter()
        self.bad_indices: set[int] = set()
        self._warned = False

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_skipped(self) -> int:
        """Files skipped so far by this copy of the dataset."""
        return sum(self.skipped.values())

    def load(self, index: int) -> Tensor | None:
        """Waveform ``[channels, T]`` of record ``index`` at ``sample_rate``, or ``None`` if the
        file is unusable (then counted in :attr:`skipped`)."""
        if index in self.bad_indices:
            return None
        record = self.records[index]
        try:
            wav = load_audio(record.path, self.sample_rate, mono=self.channels == 1).wav
        except AudioError as exc:
            self._skip(index, "unreadable", str(exc))
            return None
        wav = convert_channels(wav, self.channels)
        peak = float(wav.abs().max())
        if peak <= 10 ** (self.silence_db / 20):
            self._skip(index, "silent", f"{record.path}: peak {peak:.2e}")
            return None
        if wav.shape[-1] < self.min_samples:
            detail = f"{record.path}: {wav.shape[-1]} < {self.min_samples} samples"
            self._skip(index, "too_short", detail)
            return None
        if self.normalize == "peak":
            wav = peak_normalize(wav, self.peak_db)
        elif self.normalize == "loudness":
            wav = loudness_normalize(wav, self.loudness_db, peak_db=self.peak_db)
        return wav.to(torch.float32)

    def _skip(self, index: int, reason: str, detail: str) -> None:
        """Count and remember an unusable file; warn on the first one."""
        self.bad_indices.add(index)
        self.skipped[reason] += 1
        total = self.num_skipped
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__}: skipped {total} unusable file ({reason}: {detail}); "
                "later skips are counted in dataset.skipped",
                RuntimeWarning,
                stacklevel=3,
            )
        elif total in (10, 100, 1000, 10000):
            logger.warning(
                "%s: %d files skipped so far %s", type(self).__name__, total, dict(self.skipped)
            )


class AudioCropDataset(AudioDatasetBase):
    """Random hop-aligned crops of ``frames_per_crop`` frames for training.

    Each item is an :class:`AudioItem` with ``wav`` ``[channels, frames_per_crop * hop_length]``
    whose start is a multiple of ``hop_length`` (so crops hold the same number of tokens whatever
    the frame rate). Files shorter than a crop are zero-padded and ``length`` gives the real
    samples; files shorter than ``min_frames`` frames are skipped. Randomness comes from a
    generator seeded with ``(seed, epoch, index)``: results do not depend on the worker count or
    order, and :meth:`set_epoch` changes them per epoch (with non-persistent workers the epoch set
    in the main process reaches the workers). An unusable file is replaced by a random other
    file (up to ``max_retries`` times, then ``None``). ``augment`` (speed perturbation, gain) is
    applied to the whole utterance before cropping, drawing from the same generator.
    """

    def __init__(
        self,
        records: Sequence[AudioRecord],
        sample_rate: int,
        hop_length: int,
        frames_per_crop: int,
        channels: int = 1,
        normalize: Normalize = "none",
        seed: int = 0,
        min_frames: int = 1,
        max_retries: int = 10,
        peak_db: float = -1.0,
        loudness_db: float = -23.0,
        silence_db: float = -60.0,
        augment: Augment | None = None,
    ) -> None:
        super().__init__(
            records,
            sample_rate,
            channels,
            normalize,
            peak_db=peak_db,
            loudness_db=loudness_db,
            min_samples=min_frames * hop_length,
            silence_db=silence_db,
        )
        self.hop_length = hop_length
        self.frames_per_crop = frames_per_crop
        self.crop_samples = crop_samples(hop_length, frames_per_crop)
        self.seed = seed
        self.max_retries = max_retries
        self.augment = augment if augment is not None and augment.enabled else None
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use a different (still reproducible) random stream for ``epoch``."""
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        """The generator for item ``index`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> AudioItem | None:
        if not 0 <= index < len(self.records):
            raise IndexError(f"index {index} out of range for {len(self.records)} records")
        rng = self.rng(index)
        candidate = index
        for _ in range(self.max_retries + 1):
            wav = self.load(candidate)
            if wav is not None:
                if self.augment is not None:
                    wav = self.augment(wav, self.sample_rate, rng)
                crop = random_aligned_crop(wav, self.hop_length, self.frames_per_crop, rng)
                speaker = self.records[candidate].speaker
                return AudioItem(crop.wav, crop.length, candidate, speaker)
            if len(self.bad_indices) >= len(self.records):
                break
            candidate = int(rng.integers(len(self.records)))
        return None


class UtteranceDataset(AudioDatasetBase):
    """Whole utterances for validation: a fixed, deterministic subset of the records.

    Records are ordered by path; if ``max_items`` is set, that many are taken evenly spaced over
    the list (same choice every run). ``max_seconds`` cuts long files (to a multiple of
    ``hop_length`` when given). Items are :class:`AudioItem` with ``length = T``; unusable files
    give ``None`` (dropped by the collate function).
    """

    def __init__(
        self,
        records: Sequence[AudioRecord],
        sample_rate: int,
        channels: int = 1,
        normalize: Normalize = "none",
        max_items: int | None = None,
        max_seconds: float | None = None,
        hop_length: int | None = None,
        peak_db: float = -1.0,
        loudness_db: float = -23.0,
        min_samples: int = 1,
        silence_db: float = -60.0,
    ) -> None:
        ordered = sorted(records, key=lambda r: str(r.path))
        if max_items is not None and max_items < len(ordered):
            picks = np.linspace(0, len(ordered) - 1, num=max_items).round().astype(int)
            ordered = [ordered[i] for i in picks]
        super().__init__(
            ordered, sample_rate, channels, normalize, peak_db, loudness_db, min_samples, silence_db
        )
        self.max_samples: int | None = None
        if max_seconds is not None:
            limit = int(max_seconds * sample_rate)
            if hop_length:
                limit = max(hop_length, limit // hop_length * hop_length)
            self.max_samples = limit

    def __getitem__(self, index: int) -> AudioItem | None:
        if not 0 <= index < len(self.records):
            raise IndexError(f"index {index} out of range for {len(self.records)} records")
        wav = self.load(index)
        if wav is None:
            return None
        if self.max_samples is not None:
            wav = wav[..., : self.max_samples]
        return AudioItem(wav, int(wav.shape[-1]), index, self.records[index].speaker)
