"""Parquet twins of token shards: one row per utterance, readable without this package.

Columns: the carried manifest fields (``id``, ``speaker``, ``text``, ``split``, then any extra
ones; null where absent), ``source`` (the audio path relative to the input root),
``duration``, ``num_samples``, ``num_frames`` and ``codes``: ``list<list<uintN>>`` laid out
``[K][T]``, with the smallest unsigned type that holds the codebook (``uint8`` up to 256 codes,
``uint16`` up to 65536). Every shard of an export has the same schema, so
``datasets.load_dataset("parquet", data_files=".../*.parquet")`` reads them as one table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from codec.fileio import atomic_path

__all__ = ["has_pyarrow", "write_parquet"]


def has_pyarrow() -> bool:
    """Whether the optional ``pyarrow`` (Parquet output) is installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_parquet(
    out_dir: Path,
    name: str,
    items: list[dict[str, Any]],
    codes: list[np.ndarray],
    kinds: dict[str, str],
    dtype: np.dtype,
) -> str | None:
    """Write ``name.parquet`` (items' ``kinds`` fields, ours, codes ``[K, T_i]`` as ``dtype``)
    if pyarrow is importable; returns its file name or None."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    types = {
        "bool": pa.bool_(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "json": pa.string(),
    }
    columns: dict[str, Any] = {}
    for field, kind in kinds.items():
        values = [it.get(field) for it in items]
        if kind == "json":
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        columns[field] = pa.array(values, types[kind])
    columns["source"] = pa.array([it["source"] for it in items], pa.string())
    columns["duration"] = pa.array([it["duration"] for it in items], pa.float64())
    for key in ("num_samples", "num_frames"):
        columns[key] = pa.array([it[key] for it in items], pa.int64())
    columns["codes"] = _nested_codes(pa, codes, dtype)
    target = out_dir / f"{name}.parquet"
    with atomic_path(target, force=True) as tmp:
        pq.write_table(pa.table(columns), str(tmp))
    return target.name


def _nested_codes(pa: Any, codes: list[np.ndarray], dtype: np.dtype) -> Any:
    """``list<list<dtype>>`` [N][K][T_i] from per-utterance ``[K, T_i]`` arrays, built from
    offsets (no Python list per code)."""
    flat = np.concatenate([c.astype(dtype, copy=False).ravel() for c in codes])
    rows = [c.shape[1] for c in codes for _ in range(c.shape[0])]
    inner = np.concatenate([[0], np.cumsum(rows, dtype=np.int64)]).astype(np.int32)
    outer = np.concatenate([[0], np.cumsum([c.shape[0] for c in codes])]).astype(np.int32)
    values = pa.array(flat, pa.from_numpy_dtype(dtype))
    return pa.ListArray.from_arrays(outer, pa.ListArray.from_arrays(inner, values))
