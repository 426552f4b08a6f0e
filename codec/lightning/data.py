"""LightningDataModule over the core datasets: random hop-aligned crops and full utterances."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from codec.data.augment import Augment
from codec.data.collate import AudioCollate
from codec.data.datasets import AudioCropDataset, UtteranceDataset
from codec.data.manifest import AudioRecord, read_file_list, read_manifest, scan_audio_folder
from codec.data.sampler import LengthBucketBatchSampler
from codec.data.screen import screen_records
from codec.lightning.config import DataConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
# An installed package has no assets/: the default data (data=fixture) exists in a checkout only.
BUNDLED_HINT = (
    " (the bundled speech comes with a checkout of the repository, not with the installed"
    " package: give your audio with data.train=DIR data.val=DIR)"
)


def resolve_data_path(path: str) -> Path:
    """A path as given, else relative to the repository (so the bundled set works from anywhere)."""
    candidate = Path(path).expanduser()
    if candidate.exists() or candidate.is_absolute():
        return candidate
    return REPO_ROOT / candidate


def load_records(
    path: str, split: str | None = None, unreadable: list[Path] | None = None
) -> list[AudioRecord]:
    """A folder (recursive), a file list (``.txt``) or a JSONL manifest -> records. Files whose
    header cannot be read are skipped, and listed in ``unreadable`` when given."""
    source = resolve_data_path(path)
    if not source.exists():
        hint = BUNDLED_HINT if Path(path).parts[:2] == ("assets", "speech") else ""
        raise FileNotFoundError(f"data path not found: {path}{hint}")
    if source.is_dir():
        records = scan_audio_folder(source, split=split, unreadable=unreadable)
    elif source.suffix == ".jsonl":
        # One manifest may hold all splits (recipes/libritts): keep ours if it names any.
        records = read_manifest(source)
        if split is not None and any(r.split == split for r in records):
            records = [r for r in records if r.split == split]
    else:
        records = read_file_list(source, split=split, unreadable=unreadable)
    if not records and not unreadable:
        raise ValueError(f"no readable audio found in {path}")
    return records


def usable_records(
    path: str, split: str, min_seconds: float, key: str, report: bool = True
) -> list[AudioRecord]:
    """The records of ``path`` that hold usable audio (:func:`screen_records`), read once
    before training. None usable: ``ValueError`` with the counts by reason; some skipped: one
    ``warning:`` line on stderr (when ``report``) with the counts."""
    unreadable: list[Path] = []
    records = load_records(path, split, unreadable)
    screened = screen_records(records, min_seconds)
    screened.skipped["unreadable"] += len(unreadable)
    total = len(records) + len(unreadable)
    if not +screened.skipped:  # unary +: drops the zero count added above
        return screened.usable
    counts = screened.summary(min_seconds)
    if not screened.usable:
        raise ValueError(f"{key}={path}: no usable audio in {total} file(s) ({counts})")
    if report:
        print(
            f"warning: {key}={path}: skipped {total - len(screened.usable)} of "
            f"{total} file(s) ({counts})",
            file=sys.stderr,
        )
    return screened.usable


class EpochRandomSampler(Sampler[int]):
    """Shuffles per epoch (seed + epoch) and tells the dataset the epoch, so random crops
    differ per epoch but are reproducible; with ``num_replicas`` > 1 each rank takes a
    disjoint, equally long slice.

    The epoch is set by :meth:`resume` only (no ``set_epoch``: Lightning's epoch counter jumps
    when a run stops mid-epoch, so :class:`ResumableDataLoader` numbers the epochs itself).
    """

    def __init__(
        self, dataset: AudioCropDataset, seed: int, num_replicas: int = 1, rank: int = 0
    ) -> None:
        self.dataset, self.seed = dataset, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self.skip = 0

    def resume(self, epoch: int, skip: int = 0) -> None:
        """The next iteration is ``epoch`` without its first ``skip`` items (this rank's)."""
        self.epoch, self.skip = epoch, skip
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.dataset))
        order = np.resize(order, len(self) * self.num_replicas)
        return iter(order[self.rank :: self.num_replicas][skip:].tolist())


class ResumableDataLoader(DataLoader[Any]):
    """The training loader, exact across a stop or a kill at any step, mid-epoch included.

    Each iteration starts where training stands: ``position()`` batches consumed since the
    start (the trainer's count; the loader cannot count them itself, as Lightning and the
    workers fetch ahead) give the epoch and the batches of it to skip. :meth:`state_dict`
    saves that count; Lightning's fit loop checkpoints it and calls :meth:`load_state_dict`
    before iterating on resume. Crops depend on ``(seed, epoch, index)`` only and worker seeds
    on a generator reseeded from ``(seed, epoch)``, so skipping is exact with any
    ``num_workers``, and making the iterator never draws from the global RNG (which the
    checkpoint restores for the model).
    """

    def __init__(
        self,
        dataset: AudioCropDataset,
        *,
        position: Callable[[], int],
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset, generator=torch.Generator(), **kwargs)
        self.position, self.seed = position, seed
        self.resume_at: int | None = None

    def _sampler(self) -> tuple[EpochRandomSampler | LengthBucketBatchSampler, int]:
        """The sampler that keeps the position, and how many of its items make a batch."""
        if isinstance(self.batch_sampler, LengthBucketBatchSampler):
            return self.batch_sampler, 1
        if isinstance(self.sampler, EpochRandomSampler) and self.batch_size:
            return self.sampler, self.batch_size
        raise TypeError("ResumableDataLoader needs an EpochRandomSampler or a bucket sampler")

    def __iter__(self) -> Any:
        done = self.position() if self.resume_at is None else self.resume_at
        self.resume_at = None
        epoch, skip = divmod(done, max(1, len(self)))
        sampler, per_batch = self._sampler()
        sampler.resume(epoch, skip * per_batch)
        assert self.generator is not None
        self.generator.manual_seed(
            int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        )
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        sampler, _ = self._sampler()
        return {
            "batches": self.position(),
            "batches_per_epoch": len(self),
            "num_replicas": sampler.num_replicas,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler, _ = self._sampler()
        if (state["batches_per_epoch"], state["num_replicas"]) != (len(self), sampler.num_replicas):
            log.warning(
                "resuming with other data, batch size or process count: data order is not exact"
            )
        self.resume_at = state["batches"]


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
        crop_seconds = c.frames_per_crop * self.hop_length / self.sample_rate
        report = self._replicas()[1] == 0  # one warning line, not one per process
        self.train_set = AudioCropDataset(
            usable_records(c.train, "train", crop_seconds, "data.train", report),
            self.sample_rate,
            self.hop_length,
            c.frames_per_crop,
            channels=self.channels,
            normalize=norm,  # type: ignore[arg-type]
            seed=c.seed,
            augment=Augment(tuple(c.speeds), c.gain_db),
        )
        self.val_set = UtteranceDataset(
            usable_records(c.val, "val", self.hop_length / self.sample_rate, "data.val", report),
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

    def consumed_batches(self) -> int:
        """Training batches run since the start, over all epochs and resumes (``processed``:
        a checkpoint written after a batch counts it before Lightning marks it completed)."""
        if self.trainer is None:
            return 0
        total = self.trainer.fit_loop.epoch_loop.batch_progress.total
        return int(total.processed)  # type: ignore[attr-defined]  # typed as its base class

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None
        replicas, rank = self._replicas()
        sampler = EpochRandomSampler(self.train_set, self.cfg.seed, replicas, rank)
        return ResumableDataLoader(
            self.train_set,
            position=self.consumed_batches,
            seed=self.cfg.seed,
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
            # its own generator: validating never draws from the global RNG the model uses
            generator=torch.Generator().manual_seed(self.cfg.seed),
        )
