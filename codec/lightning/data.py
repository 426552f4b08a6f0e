"""LightningDataModule over the core datasets: random hop-aligned crops and full utterances."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Sampler

from codec.data.collate import AudioCollate
from codec.data.datasets import AudioCropDataset, UtteranceDataset
from codec.data.manifest import AudioRecord, read_file_list, read_manifest, scan_audio_folder
from codec.data.sampler import LengthBucketBatchSampler
from codec.lightning.config import DataConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_data_path(path: str) -> Path:
    """A path as given, else relative to the repository (so the bundled set works from anywhere)."""
    candidate = Path(path).expanduser()
    if candidate.exists() or candidate.is_absolute():
        return candidate
    return REPO_ROOT / candidate


def load_records(path: str, split: str | None = None) -> list[AudioRecord]:
    """A folder (recursive), a file list (``.txt``) or a JSONL manifest -> records."""
    source = resolve_data_path(path)
    if not source.exists():
        raise FileNotFoundError(f"data path not found: {path}")
    if source.is_dir():
        records = scan_audio_folder(source, split=split)
    elif source.suffix == ".jsonl":
        # One manifest may hold all splits (recipes/libritts): keep ours if it names any.
        records = read_manifest(source)
        if split is not None and any(r.split == split for r in records):
            records = [r for r in records if r.split == split]
    else:
        records = read_file_list(source, split=split)
    if not records:
        raise ValueError(f"no readable audio found in {path}")
    return records


class EpochRandomSampler(Sampler[int]):
    """Shuffles per epoch (seed + epoch) and tells the dataset the epoch, so random crops
    differ per epoch but are reproducible; with ``num_replicas`` > 1 each rank takes a
    disjoint, equally long slice."""

    def __init__(
        self, dataset: AudioCropDataset, seed: int, num_replicas: int = 1, rank: int = 0
    ) -> None:
        self.dataset, self.seed = dataset, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.dataset))
        order = np.resize(order, len(self) * self.num_replicas)
        return iter(order[self.rank :: self.num_replicas].tolist())


class CodecDataModule(L.LightningDataModule):
    def __init__(
        self, cfg: DataConfig, sample_rate: int, hop_length: int, channels: int = 1
    ) -> None:
        super().__init__()
        self.cfg, self.sample_rate, self.hop_length, self.channels = (
            cfg,
            sample_rate,
            hop_length,
            channels,
        )
        self.collate = AudioCollate(pad_multiple=hop_length)
        self.train_set: AudioCropDataset | None = None
        self.val_set: UtteranceDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        norm = c.normalize if c.normalize in ("none", "peak", "loudness") else "invalid"
        if norm == "invalid":
            raise ValueError(f"data.normalize must be none, peak or loudness, got {c.normalize!r}")
        self.train_set = AudioCropDataset(
            load_records(c.train, "train"),
            self.sample_rate,
            self.hop_length,
            c.frames_per_crop,
            channels=self.channels,
            normalize=norm,  # type: ignore[arg-type]
            seed=c.seed,
        )
        self.val_set = UtteranceDataset(
            load_records(c.val, "val"),
            self.sample_rate,
            channels=self.channels,
            normalize=norm,  # type: ignore[arg-type]
            max_items=c.val_items,
            max_seconds=c.val_max_seconds,
            hop_length=self.hop_length,
            min_samples=self.hop_length,
        )

    def _replicas(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None
        replicas, rank = self._replicas()
        sampler = EpochRandomSampler(self.train_set, self.cfg.seed, replicas, rank)
        return DataLoader(
            self.train_set,
            batch_size=self.cfg.batch_size,
            sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.cfg.num_workers,
            persistent_workers=False,
            drop_last=len(sampler) >= self.cfg.batch_size,
        )

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None
        durations = [r.duration for r in self.val_set.records]
        batches = LengthBucketBatchSampler(
            durations, self.cfg.batch_size, num_buckets=4, shuffle=False
        )
        return DataLoader(
            self.val_set,
            batch_sampler=batches,
            collate_fn=self.collate,
            num_workers=self.cfg.num_workers,
        )
