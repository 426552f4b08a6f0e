"""Length-bucketed batch sampler: batches of similar durations, shuffled with a seed, DDP-aware."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

__all__ = ["LengthBucketBatchSampler"]


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Yield batches of dataset indices whose ``lengths`` (e.g. durations) are close.

    The indices are split by length quantiles into ``num_buckets`` buckets (fewer if a bucket
    would hold less than ``batch_size`` items); each epoch the items
    inside each bucket are shuffled and cut into batches of ``batch_size``, then the batches of
    all buckets are shuffled together (seeded by ``seed + epoch``; call :meth:`set_epoch`).
    With ``shuffle=False`` the order is fixed: shortest batch first.

    Every index appears exactly once per epoch on a single process, except that
    ``drop_last=True`` drops each bucket's incomplete last batch. For DDP pass ``num_replicas``
    and ``rank``: the (shared, identically shuffled) batch list is padded by repeating its first
    batches (or, with ``drop_last``, truncated) to a multiple of ``num_replicas`` and rank ``r``
    takes batches ``r, r + num_replicas, ...``, so all ranks run the same number of steps.
    With Lightning, pass this sampler yourself and set ``use_distributed_sampler=False``.

    :meth:`resume` continues an epoch part-way (a resumed training run): the order depends only
    on ``(seed, epoch)``, so skipping the batches already consumed is exact, and the same count
    on every rank keeps the ranks consistent.
    """

    def __init__(
        self,
        lengths: Sequence[float],
        batch_size: int,
        num_buckets: int = 10,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size <= 0 or num_buckets <= 0:
            raise ValueError(
                f"batch_size and num_buckets must be > 0, got {batch_size}, {num_buckets}"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} not in [0, {num_replicas})")
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.skip = 0  # batches of ``epoch`` already consumed (by a run being resumed)
        # at least one full batch per bucket, so small datasets do not get 1-item batches
        self.buckets = self._make_buckets(min(num_buckets, max(1, len(self.lengths) // batch_size)))

    def _make_buckets(self, num_buckets: int) -> list[np.ndarray]:
        """Indices sorted by length (stable), split into ``num_buckets`` near-equal parts."""
        order = np.argsort(self.lengths, kind="stable")
        return [part for part in np.array_split(order, num_buckets) if len(part)]

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently (and identically on all ranks) for ``epoch``."""
        if epoch != self.epoch:
            self.skip = 0
        self.epoch = epoch

    def resume(self, epoch: int, batches: int) -> None:
        """The next iteration is ``epoch`` without its first ``batches`` batches (this rank's);
        later iterations are whole epochs again."""
        if epoch < 0 or batches < 0:
            raise ValueError(f"cannot resume at epoch {epoch}, batch {batches}")
        self.epoch, self.skip = epoch, batches

    def _all_batches(self) -> list[list[int]]:
        """The epoch's batches for all ranks, in order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        batches: list[list[int]] = []
        for bucket in self.buckets:
            items = rng.permutation(bucket) if self.shuffle else bucket
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append([int(i) for i in batch])
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _rank_batches(self) -> list[list[int]]:
        """This rank's share of :meth:`_all_batches` (equal counts on every rank)."""
        batches = self._all_batches()
        if self.num_replicas == 1:
            return batches
        if self.drop_last:
            usable = len(batches) - len(batches) % self.num_replicas
            batches = batches[:usable]
        elif batches:
            missing = -len(batches) % self.num_replicas
            batches = batches + [batches[i % len(batches)] for i in range(missing)]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        return iter(self._rank_batches()[skip:])

    def __len__(self) -> int:
        sizes = [len(b) for b in self.buckets]
        if self.drop_last:
            total = sum(s // self.batch_size for s in sizes)
            return total // self.num_replicas
        total = sum(-(-s // self.batch_size) for s in sizes)
        return -(-total // self.num_replicas)
