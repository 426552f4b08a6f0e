from __future__ import annotations

import numpy as np
import pytest

from codec.data import LengthBucketBatchSampler


def _lengths(n: int = 203, seed: int = 0) -> list[float]:
    return list(np.random.default_rng(seed).uniform(0.5, 20.0, size=n))


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_exactly_once(shuffle: bool) -> None:
    sampler = LengthBucketBatchSampler(_lengths(), batch_size=8, num_buckets=6, shuffle=shuffle)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(203))
        assert len(batches) == len(sampler)
        assert all(1 <= len(b) <= 8 for b in batches)


def test_batches_hold_similar_lengths() -> None:
    lengths = _lengths()
    sampler = LengthBucketBatchSampler(lengths, batch_size=8, num_buckets=10)
    arr = np.asarray(lengths)
    spread = np.mean([np.ptp(arr[b]) for b in sampler])
    random_spread = np.mean([np.ptp(arr[i : i + 8]) for i in range(0, 200, 8)])
    assert spread < 0.25 * random_spread


def test_seeded_shuffle_is_reproducible_and_changes_with_epoch() -> None:
    a = LengthBucketBatchSampler(_lengths(), batch_size=8, seed=3)
    b = LengthBucketBatchSampler(_lengths(), batch_size=8, seed=3)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)


def test_drop_last() -> None:
    sampler = LengthBucketBatchSampler(_lengths(), batch_size=8, num_buckets=4, drop_last=True)
    batches = list(sampler)
    assert all(len(b) == 8 for b in batches) and len(batches) == len(sampler)
    assert len({i for b in batches for i in b}) == 8 * len(batches)


@pytest.mark.parametrize("drop_last", [False, True])
def test_ddp_ranks_split_batches_evenly(drop_last: bool) -> None:
    ranks = [
        list(
            LengthBucketBatchSampler(
                _lengths(), 8, seed=5, drop_last=drop_last, num_replicas=3, rank=r
            )
        )
        for r in range(3)
    ]
    assert len({len(r) for r in ranks}) == 1
    sampler = LengthBucketBatchSampler(
        _lengths(), 8, seed=5, drop_last=drop_last, num_replicas=3, rank=0
    )
    assert len(ranks[0]) == len(sampler)
    covered = {i for r in ranks for b in r for i in b}
    if not drop_last:
        assert covered == set(range(203))
    with pytest.raises(ValueError):
        LengthBucketBatchSampler(_lengths(), 8, num_replicas=2, rank=2)


def test_small_dataset_gets_full_batches() -> None:
    sampler = LengthBucketBatchSampler(
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 4, shuffle=False
    )
    assert list(sampler) == [[0, 1, 2, 3], [4], [5, 6, 7, 8]]  # 2 buckets, not 9 of size 1


@pytest.mark.parametrize("num_replicas", [1, 3])
def test_resume_continues_the_epoch_exactly_on_every_rank(num_replicas: int) -> None:
    def sampler(rank: int) -> LengthBucketBatchSampler:
        return LengthBucketBatchSampler(_lengths(), 8, seed=5, num_replicas=num_replicas, rank=rank)

    for rank in range(num_replicas):
        straight = sampler(rank)
        straight.set_epoch(2)
        epoch2 = list(straight)
        resumed = sampler(rank)
        resumed.resume(2, 5)  # 5 batches of epoch 2 consumed before the stop
        assert list(resumed) == epoch2[5:]
        assert list(resumed) == epoch2  # only the first iteration skips
        resumed.resume(2, 5)
        resumed.set_epoch(3)  # a new epoch forgets the skip
        straight.set_epoch(3)
        assert list(resumed) == list(straight)
    with pytest.raises(ValueError):
        sampler(0).resume(-1, 0)
