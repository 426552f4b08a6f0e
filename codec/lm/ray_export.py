"""Corpus export on a Ray cluster (``codec export-tokens --engine ray``; the ``ray`` extra).

The resolved input list becomes a Ray Dataset with one row per batch (the batches a single
process forms, so the codes are the same); ``map_batches`` sends each to a pool of actors,
each of which loads the model once (on a GPU of its own where the cluster has GPUs) and
returns the codes. The driver puts the results back in input order and writes the shards and
``manifest.json`` as the local export does: the same files, resumable the same way. Audio is
read by the actors, so every node must see the input paths (and the model, unless it is a
bundled one) under the same names; only tokens travel back to the driver.

``ray`` is imported when an engine runs, never by ``import codec``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from codec.data.manifest import AudioRecord
from codec.errors import install_hint
from codec.lm.batches import Encoded, Engine, encode_loaded, load_record
from codec.loading import load_model
from codec.model import Codec
from codec.tokens import code_dtype

__all__ = ["EncodeActor", "has_ray", "in_batch_order", "ray_engine"]


class EncodeActor:
    """A Ray Data actor: loads the model ``model`` once, then encodes one batch per call."""

    def __init__(self, model: str, fingerprint: str, num_codebooks: int, threads: int) -> None:
        torch.set_num_threads(threads)
        self.codec = load_model(model, "cuda" if torch.cuda.is_available() else "cpu")
        if self.codec.fingerprint != fingerprint:
            raise ValueError(
                f"--model {model} is another model on this node (fingerprint "
                f"{self.codec.fingerprint[:12]}, the driver's is {fingerprint[:12]})"
            )
        self.k = num_codebooks
        self.dtype = code_dtype(self.codec.codebook_size)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rows (one per batch: ``batch``, ``first`` index, ``paths``) -> one row per item."""
        out: dict[str, list[Any]] = {k: [] for k in ("batch", "i", "codes", "samples", "reason")}
        for batch, first, paths in zip(rows["batch"], rows["first"], rows["paths"]):
            sr, channels = self.codec.sample_rate, self.codec.channels
            loaded = [(int(first) + j, load_record(p, sr, channels)) for j, p in enumerate(paths)]
            with torch.inference_mode():
                encoded = encode_loaded(self.codec, loaded, self.k)
            for i, codes, samples in encoded:
                failed = isinstance(codes, str)
                out["batch"].append(int(batch))
                out["i"].append(i)
                out["samples"].append(samples)
                out["reason"].append(codes if isinstance(codes, str) else "")
                data = b"" if failed else np.ascontiguousarray(codes, self.dtype).tobytes()
                out["codes"].append(data)
        return {
            "batch": np.array(out["batch"], np.int64),
            "i": np.array(out["i"], np.int64),
            "samples": np.array(out["samples"], np.int64),
            "reason": np.array(out["reason"], dtype=object),
            "codes": np.array(out["codes"], dtype=object),
        }


def has_ray() -> bool:
    """Whether the optional Ray Data (the ``ray`` extra) is installed."""
    try:
        _ray()
    except ImportError:
        return False
    return True


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(f"--engine ray needs Ray Data: {install_hint('ray')}") from None
    return ray


def ray_engine(
    model: str,
    num_actors: int | None = None,
    num_gpus: float | None = None,
    threads: int = 1,
    address: str | None = None,
) -> Engine:
    """An engine for :func:`codec.lm.export.export_tokens` that encodes on Ray actors.

    ``model``: what every actor loads (``--model``: a bundled model, a Hub id, or a path all
    nodes see); it must be the driver's model (same fingerprint). ``num_actors``: the pool size
    (default: one per GPU of the cluster, else one per ``threads`` CPUs). ``num_gpus`` per
    actor: default 1 when the cluster has GPUs, else 0. ``threads``: torch threads (and CPUs
    reserved) per actor. Ray is started (or joined, ``address``) if not yet initialised.
    """

    def run(
        codec: Codec, records: Sequence[AudioRecord], k: int, batch_size: int
    ) -> Iterator[list[Encoded]]:
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=address)
        if not records:
            return
        resources = ray.cluster_resources()
        gpus = num_gpus if num_gpus is not None else float(resources.get("GPU", 0) >= 1)
        if num_actors is not None:
            actors = num_actors
        elif gpus:
            actors = max(1, int(resources.get("GPU", 1) // gpus))
        else:
            actors = max(1, int(resources.get("CPU", 1) // threads))
        starts = range(0, len(records), batch_size)
        paths = [[str(r.path) for r in records[s : s + batch_size]] for s in starts]
        rows = [{"batch": j, "first": s, "paths": p} for j, (s, p) in enumerate(zip(starts, paths))]
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command line has its own
        dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * actors))
        encoded = dataset.map_batches(
            EncodeActor,
            fn_constructor_kwargs={
                "model": model,
                "fingerprint": codec.fingerprint,
                "num_codebooks": k,
                "threads": threads,
            },
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=threads,
            num_gpus=gpus,
        )
        sizes = [len(p) for p in paths]
        chunks = encoded.iter_batches(batch_size=None, batch_format="numpy")
        yield from in_batch_order(chunks, sizes, (k, -1), code_dtype(codec.codebook_size))

    return run


def in_batch_order(
    results: Any, sizes: list[int], shape: tuple[int, int], dtype: np.dtype
) -> Iterator[list[Encoded]]:
    """Regroup the actors' item rows (in any order) into batches, yielded in batch order."""
    pending: dict[int, list[Encoded]] = {}
    next_batch = 0
    for chunk in results:
        for batch, i, samples, reason, data in zip(
            chunk["batch"], chunk["i"], chunk["samples"], chunk["reason"], chunk["codes"]
        ):
            codes = reason or np.frombuffer(data, dtype).reshape(shape)
            pending.setdefault(int(batch), []).append((int(i), codes, int(samples)))
        while next_batch in pending and len(pending[next_batch]) == sizes[next_batch]:
            yield sorted(pending.pop(next_batch), key=lambda item: item[0])
            next_batch += 1
    if next_batch != len(sizes):
        raise RuntimeError(f"Ray returned {next_batch} of {len(sizes)} batches")
