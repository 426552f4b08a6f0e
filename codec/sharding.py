"""Which part of a corpus one worker of many takes (``--num-shards`` / ``--shard-index``).

A worker is told its place by flags, or finds it in the environment that a launcher sets:

- ``torchrun``: ``RANK`` of ``WORLD_SIZE``;
- Slurm job arrays: ``SLURM_ARRAY_TASK_ID`` (minus ``SLURM_ARRAY_TASK_MIN``, divided by
  ``SLURM_ARRAY_TASK_STEP``) of ``SLURM_ARRAY_TASK_COUNT``;
- an ``srun`` step: ``SLURM_PROCID`` of ``SLURM_STEP_NUM_TASKS`` (or ``SLURM_NTASKS``). Only
  inside a step (``SLURM_STEP_ID`` set): a batch script also sees ``SLURM_NTASKS`` with
  ``SLURM_PROCID=0``, and one command there is one worker, not the first of many.

An array of multi-process jobs combines both: array task ``a`` of ``A``, process ``p`` of ``P``
is worker ``a * P + p`` of ``A * P``. Explicit flags win over the environment.

The split is over the input list every worker resolves identically (the single worker's
list): worker ``i`` takes one contiguous run of it, so concatenating the workers' outputs in
worker order gives the single worker's order. ``align`` keeps cut points on multiples of a
batch size, so each worker forms exactly the batches the single worker would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["ShardSpec", "local_device", "resolve_shard_spec"]

T = TypeVar("T")


@dataclass(frozen=True)
class ShardSpec:
    """Worker ``index`` of ``count`` (0-based); ``source`` says where it came from."""

    index: int = 0
    count: int = 1
    source: str = "default"

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard index {self.index} is not in 0..{self.count - 1} ({self.source})"
            )

    @property
    def prefix(self) -> str:
        """What this worker's file names start with: ``r0003-`` (empty for a single worker)."""
        return "" if self.count == 1 else f"r{self.index:04d}-"

    def bounds(self, n: int, align: int = 1) -> tuple[int, int]:
        """``(start, stop)`` of this worker's run of ``n`` items, cut on multiples of
        ``align``; balanced in blocks of ``align`` (a worker may get nothing when blocks are
        fewer than workers)."""
        blocks = -(-n // align)
        first = self.index * blocks // self.count
        last = (self.index + 1) * blocks // self.count
        return min(n, first * align), min(n, last * align)

    def take(self, items: Sequence[T], align: int = 1) -> list[T]:
        """This worker's contiguous run of ``items``."""
        start, stop = self.bounds(len(items), align)
        return list(items[start:stop])


def resolve_shard_spec(
    num_shards: int | None = None,
    shard_index: int | None = None,
    env: Mapping[str, str] | None = None,
) -> ShardSpec:
    """The worker's place: from the flags when given (both, or neither), else from ``env``
    (default ``os.environ``: torchrun, Slurm arrays, srun steps), else the single worker.
    Inconsistent values are a one-line ``ValueError``."""
    if (num_shards is None) != (shard_index is None):
        raise ValueError("--num-shards and --shard-index go together: give both or neither")
    if num_shards is not None and shard_index is not None:
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(
                f"--shard-index must be in 0..{num_shards - 1} for --num-shards {num_shards},"
                f" got {shard_index}"
            )
        return ShardSpec(shard_index, num_shards, "--num-shards/--shard-index")
    env = os.environ if env is None else env
    inner = _torchrun(env) or _srun(env)
    outer = _slurm_array(env)
    if inner is None and outer is None:
        return ShardSpec()
    if inner is None or outer is None:
        spec = inner or outer
        assert spec is not None
        return spec
    return ShardSpec(
        outer.index * inner.count + inner.index,
        outer.count * inner.count,
        f"{outer.source} x {inner.source}",
    )


def _ints(env: Mapping[str, str], *names: str) -> list[int] | None:
    """The integer values of ``names`` in ``env``: None when none is set, an error when only
    some are set or one is not a whole number."""
    present = [n for n in names if env.get(n, "").strip()]
    if not present:
        return None
    if len(present) < len(names):
        missing = ", ".join(n for n in names if n not in present)
        raise ValueError(
            f"{', '.join(present)} set without {missing}: cannot tell this worker's shard"
        )
    values = []
    for name in names:
        try:
            values.append(int(env[name]))
        except ValueError:
            raise ValueError(f"{name}={env[name]!r} is not a whole number") from None
    return values


def _checked(index: int, count: int, source: str) -> ShardSpec:
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"{source}: worker {index} is not in 0..{count - 1}")
    return ShardSpec(index, count, source)


def _torchrun(env: Mapping[str, str]) -> ShardSpec | None:
    values = _ints(env, "RANK", "WORLD_SIZE")
    if values is None:
        return None
    rank, world = values
    return _checked(rank, world, f"RANK={rank} WORLD_SIZE={world}")


def _srun(env: Mapping[str, str]) -> ShardSpec | None:
    if not env.get("SLURM_STEP_ID", "").strip():
        return None  # the batch script itself, not a task of an srun step
    count_name = "SLURM_STEP_NUM_TASKS" if env.get("SLURM_STEP_NUM_TASKS") else "SLURM_NTASKS"
    values = _ints(env, "SLURM_PROCID", count_name)
    if values is None:
        return None
    proc, tasks = values
    return _checked(proc, tasks, f"SLURM_PROCID={proc} {count_name}={tasks}")


def _slurm_array(env: Mapping[str, str]) -> ShardSpec | None:
    values = _ints(env, "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")
    if values is None:
        return None
    task, count = values
    first = int(env.get("SLURM_ARRAY_TASK_MIN") or 0)
    step = int(env.get("SLURM_ARRAY_TASK_STEP") or 1)
    source = f"SLURM_ARRAY_TASK_ID={task} SLURM_ARRAY_TASK_COUNT={count}"
    if step < 1 or (task - first) % step:
        raise ValueError(
            f"{source}: array ids must run {first}, {first + step}, ... (--array=A-B[:S]); "
            "give --num-shards/--shard-index for other arrays"
        )
    return _checked((task - first) // step, count, source)


def local_device(device: str, gpus: int, env: Mapping[str, str] | None = None) -> str:
    """``cuda:L`` for the process's local rank ``L`` (``LOCAL_RANK`` from torchrun, else
    ``SLURM_LOCALID``) when ``device`` is ``auto`` or ``cuda`` and the node has ``gpus`` > 1,
    so that the workers of one node spread over its GPUs; otherwise ``device``."""
    env = os.environ if env is None else env
    local = env.get("LOCAL_RANK") or env.get("SLURM_LOCALID")
    if device not in ("auto", "cuda") or gpus < 2 or not local or not local.isdigit():
        return device
    return f"cuda:{int(local) % gpus}"
