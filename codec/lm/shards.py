"""Token shards on disk: memory-mappable ``.npy`` arrays plus a ``manifest.json``.

A shard directory holds, per shard ``shard-NNNNN``::

    shard-NNNNN.codes.npy   codes [K, total_frames], smallest unsigned dtype, utterances
                            concatenated along time
    shard-NNNNN.index.npy   int64 [N, 2]: (offset, length) in frames of each utterance
    shard-NNNNN.parquet     optional: one row per utterance (its fields, source, frames,
                            samples, codes ``[K][T]`` as uint8/uint16; see ``lm/parquet.py``)

and one ``manifest.json`` (written last, atomically, after each shard) describing the model
(id, sample rate, frame rate, groups, levels, codebook sizes), the carried ``fields`` and their
types, every completed shard and the utterances in it (source path relative to
``source_root``, itself relative to the shard folder; the input manifest's ``id``, ``speaker``,
``text``, ``split`` and other fields; duration, samples, frames). No path is absolute.
Everything loads with ``np.load(path, mmap_mode="r")``; pickle is never allowed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.fileio import atomic_path, atomic_write_bytes, read_versioned_json
from codec.tokens import Tokens, code_dtype

__all__ = [
    "MANIFEST_NAME",
    "SHARDS_FORMAT",
    "ShardItem",
    "TokenShards",
    "code_dtype",
    "read_shard_manifest",
    "shard_name",
    "write_shard",
    "write_shard_manifest",
]

MANIFEST_NAME = "manifest.json"
SHARDS_FORMAT = "codec-token-shards"
SHARDS_VERSION = 1


def shard_name(number: int) -> str:
    return f"shard-{number:05d}"


@dataclass(frozen=True)
class ShardItem:
    """Where one exported utterance lives: ``shard`` (position in the manifest), ``row`` in
    its index, and its manifest record (source, duration, num_samples, num_frames, and the
    carried ``fields``: id, speaker, text, split, ...)."""

    shard: int
    row: int
    source: str
    duration: float
    num_samples: int
    num_frames: int
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


def _save_npy(path: Path, array: np.ndarray, force: bool = True) -> None:
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def write_shard(
    out_dir: Path, name: str, codes: list[np.ndarray], dtype: np.dtype
) -> dict[str, Any]:
    """Write one shard from per-utterance codes ``[K, T_i]``; returns its manifest entry
    (without ``items``). Each file is written atomically, overwriting a partial earlier try."""
    lengths = np.array([c.shape[1] for c in codes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    joined = np.concatenate(codes, axis=1).astype(dtype, copy=False)
    _save_npy(out_dir / f"{name}.codes.npy", np.ascontiguousarray(joined))
    _save_npy(out_dir / f"{name}.index.npy", np.stack([offsets, lengths], axis=1))
    entry: dict[str, Any] = {
        "name": name,
        "codes": f"{name}.codes.npy",
        "index": f"{name}.index.npy",
        "num_items": len(codes),
        "num_frames": int(lengths.sum()),
    }
    return entry


def read_shard_manifest(shard_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``manifest.json`` of a shard directory."""
    path = Path(shard_dir) / MANIFEST_NAME
    data = read_versioned_json(
        path, "shard manifest", "a token shard manifest", SHARDS_FORMAT, SHARDS_VERSION
    )
    for key in (
        "model_id",
        "sample_rate",
        "frame_rate",
        "groups",
        "levels",
        "codebook_size",
        "shards",
    ):
        if key not in data:
            raise ValueError(f"{path}: field '{key}' missing")
    return data


def write_shard_manifest(shard_dir: Path, manifest: dict[str, Any]) -> None:
    shards = manifest["shards"]
    manifest["num_items"] = sum(s["num_items"] for s in shards)
    manifest["num_frames"] = sum(s["num_frames"] for s in shards)
    manifest["total_duration"] = round(sum(it["duration"] for s in shards for it in s["items"]), 6)
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(shard_dir / MANIFEST_NAME, text.encode("utf-8"), force=True)


class TokenShards:
    """Read-only, memory-mapped view of an exported shard directory.

    ``shards[i]`` items are numbered globally in manifest order; :meth:`codes` returns a
    ``[K, T]`` numpy view (no copy) and :meth:`tokens` a :class:`~codec.tokens.Tokens` ready
    for ``codec.decode``.
    """

    def __init__(self, shard_dir: str | os.PathLike[str]) -> None:
        self.root = Path(shard_dir)
        self.manifest = read_shard_manifest(self.root)
        self._codes: list[np.ndarray] = []
        self._index: list[np.ndarray] = []
        self.items: list[ShardItem] = []
        k = self.num_codebooks
        for s, entry in enumerate(self.manifest["shards"]):
            codes = np.load(self.root / entry["codes"], mmap_mode="r", allow_pickle=False)
            index = np.load(self.root / entry["index"], mmap_mode="r", allow_pickle=False)
            if codes.ndim != 2 or codes.shape[0] != k or index.shape != (entry["num_items"], 2):
                raise ValueError(
                    f"{self.root / entry['name']}: shard files do not match the manifest"
                )
            if entry["num_items"] and int(index[-1, 0] + index[-1, 1]) > codes.shape[1]:
                raise ValueError(f"{self.root / entry['name']}: index points past the codes")
            self._codes.append(codes)
            self._index.append(index)
            names = self.manifest.get("fields", {})
            for row, it in enumerate(entry["items"]):
                fields = {name: it.get(name) for name in names}
                self.items.append(
                    ShardItem(
                        s,
                        row,
                        it["source"],
                        it["duration"],
                        it["num_samples"],
                        it["num_frames"],
                        fields,
                    )
                )

    @property
    def num_codebooks(self) -> int:
        return int(self.manifest["groups"]) * int(self.manifest["levels"])

    @property
    def codebook_size(self) -> int:
        return int(self.manifest["codebook_size"])

    def __len__(self) -> int:
        return len(self.items)

    def span(self, i: int) -> tuple[int, int, int]:
        """(shard, offset, length) of item ``i``."""
        item = self.items[i]
        offset, length = (int(v) for v in self._index[item.shard][item.row])
        return item.shard, offset, length

    def codes(self, i: int, start: int = 0, num_frames: int | None = None) -> np.ndarray:
        """Codes of item ``i`` (frames ``start .. start + num_frames``), a ``[K, T]`` view."""
        shard, offset, length = self.span(i)
        if not 0 <= start <= length:
            raise ValueError(f"start {start} outside item {i} of {length} frames")
        stop = length if num_frames is None else min(length, start + num_frames)
        return self._codes[shard][:, offset + start : offset + stop]

    def tokens(self, i: int) -> Tokens:
        """Item ``i`` as ``Tokens`` ``[1, K, T]`` (with its exact sample count)."""
        m = self.manifest
        codes = torch.from_numpy(np.asarray(self.codes(i)).astype(np.int64))[None]
        return Tokens(
            codes=codes,
            lengths=torch.tensor([codes.shape[-1]]),
            num_samples=torch.tensor([self.items[i].num_samples]),
            sample_rate=int(m["sample_rate"]),
            frame_rate=float(m["frame_rate"]),
            codebook_size=int(m["codebook_size"]),
            groups=int(m["groups"]),
            model_id=str(m["model_id"]),
            model_fingerprint=str(m.get("model_fingerprint", "")),
        )

    def sources(self) -> list[str]:
        return [it.source for it in self.items]

    def audio_path(self, i: int) -> Path:
        """Where item ``i``'s audio is, from the stored relative paths (valid while the shard
        folder and the corpus keep their relative places)."""
        return self.root / self.manifest.get("source_root", ".") / self.items[i].source
