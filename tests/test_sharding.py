"""Which worker of many a process is: flags, torchrun, Slurm arrays and srun steps."""

from __future__ import annotations

import pytest

from codec.sharding import ShardSpec, local_device, resolve_shard_spec


def test_flags_win_over_the_environment() -> None:
    env = {"RANK": "3", "WORLD_SIZE": "4"}
    spec = resolve_shard_spec(2, 1, env)
    assert (spec.index, spec.count) == (1, 2)
    assert (resolve_shard_spec(env={}).index, resolve_shard_spec(env={}).count) == (0, 1)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}, (2, 4)),  # torchrun
        ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}, (3, 4)),
        # --array=1-4 (ids start at 1), --array=0-30:10 (a step)
        (
            {
                "SLURM_ARRAY_TASK_ID": "4",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "1",
            },
            (3, 4),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "20",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "10",
            },
            (2, 4),
        ),
        # a task of an srun step; the step's task count wins over the allocation's
        (
            {
                "SLURM_STEP_ID": "0",
                "SLURM_PROCID": "5",
                "SLURM_NTASKS": "16",
                "SLURM_STEP_NUM_TASKS": "8",
            },
            (5, 8),
        ),
        ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, (1, 2)),
        # the batch script itself: Slurm sets SLURM_NTASKS and SLURM_PROCID=0 there too
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}, (0, 1)),
        # array task 1 of 3, each running torchrun with 2 processes: worker 1 * 2 + 1 of 6
        (
            {
                "SLURM_ARRAY_TASK_ID": "1",
                "SLURM_ARRAY_TASK_COUNT": "3",
                "RANK": "1",
                "WORLD_SIZE": "2",
            },
            (3, 6),
        ),
    ],
)
def test_environment(env: dict[str, str], expected: tuple[int, int]) -> None:
    spec = resolve_shard_spec(env=env)
    assert (spec.index, spec.count) == expected


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ((2, None), {}, "go together"),
        ((None, 1), {}, "go together"),
        ((2, 2), {}, "0..1"),
        ((None, None), {"RANK": "1"}, "without WORLD_SIZE"),
        ((None, None), {"RANK": "4", "WORLD_SIZE": "4"}, "not in 0..3"),
        ((None, None), {"RANK": "x", "WORLD_SIZE": "4"}, "whole number"),
        ((None, None), {"SLURM_ARRAY_TASK_ID": "2"}, "without SLURM_ARRAY_TASK_COUNT"),
        (
            (None, None),
            {
                "SLURM_ARRAY_TASK_ID": "5",
                "SLURM_ARRAY_TASK_COUNT": "2",
                "SLURM_ARRAY_TASK_STEP": "2",
            },
            "--array",
        ),
        ((None, None), {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "3"}, "0..2"),
    ],
)
def test_inconsistent_values_are_one_line(
    flags: tuple[int | None, int | None], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ValueError, match=needle) as info:
        resolve_shard_spec(*flags, env=env)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("n", [0, 1, 7, 16, 101])
@pytest.mark.parametrize("count", [1, 2, 3, 8])
@pytest.mark.parametrize("align", [1, 4])
def test_workers_split_the_list_into_contiguous_runs(n: int, count: int, align: int) -> None:
    items = list(range(n))
    runs = [ShardSpec(i, count).take(items, align) for i in range(count)]
    assert [x for run in runs for x in run] == items  # the union, in order, once each
    for i in range(count):
        start, stop = ShardSpec(i, count).bounds(n, align)
        assert start % align == 0 and (stop % align == 0 or stop == n)
    sizes = [len(run) for run in runs]
    assert max(sizes) - min(sizes) <= align  # balanced up to one batch


def test_prefixes_and_local_device() -> None:
    assert ShardSpec().prefix == "" and ShardSpec(3, 12).prefix == "r0003-"
    assert ShardSpec(12345, 20000).prefix == "r12345-"
    assert local_device("auto", 4, {"LOCAL_RANK": "5"}) == "cuda:1"
    assert local_device("cuda", 8, {"SLURM_LOCALID": "3"}) == "cuda:3"
    assert local_device("cpu", 4, {"LOCAL_RANK": "1"}) == "cpu"
    assert local_device("auto", 1, {"LOCAL_RANK": "1"}) == "auto"
    assert local_device("cuda:2", 4, {"LOCAL_RANK": "1"}) == "cuda:2"
