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

Worker ``i`` of a sharded export (``--num-shards N``) prefixes its files with ``r000i-``
(``r0003-shard-00012.codes.npy``, ``r0003-manifest.json`` with a ``part``: its index, the
worker count and its run ``start``..``stop`` of the ``inputs`` every worker resolved), so that
workers can share a folder. :func:`find_manifests` puts the parts back in the single worker's
order; ``codec merge-tokens`` (:mod:`codec.lm.merge`) writes them as one ``manifest.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.fileio import atomic_path, atomic_write_bytes, read_versioned_json
from codec.sharding import ShardSpec
from codec.tokens import Tokens, code_dtype

__all__ = [
    "MANIFEST_NAME",
    "SHARDS_FORMAT",
    "ShardItem",
    "TokenShards",
    "code_dtype",
    "combine_manifests",
    "file_prefix",
    "find_manifests",
    "manifest_file",
    "read_shard_manifest",
    "shard_name",
    "write_shard",
    "write_shard_manifest",
]

MANIFEST_NAME = "manifest.json"
SHARDS_FORMAT = "codec-token-shards"
SHARDS_VERSION = 1


def shard_name(number: int, prefix: str = "") -> str:
    """``shard-00012``, or ``r0003-shard-00012`` for worker 3 of a sharded export."""
    return f"{prefix}shard-{number:05d}"


def file_prefix(manifest: dict[str, Any]) -> str:
    """What the files of the export ``manifest`` describes start with: ``r0003-`` for worker 3
    of several (its ``part``), empty for a whole export."""
    part = manifest.get("part")
    return "" if not part else ShardSpec(int(part["index"]), int(part["count"])).prefix


def manifest_file(manifest: dict[str, Any]) -> str:
    """``manifest.json``, or ``r0003-manifest.json`` for worker 3's part."""
    return f"{file_prefix(manifest)}{MANIFEST_NAME}"


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


def read_shard_manifest(
    shard_dir: str | os.PathLike[str], name: str = MANIFEST_NAME
) -> dict[str, Any]:
    """Read and check ``manifest.json`` (or the worker manifest ``name``) of a shard directory."""
    path = Path(shard_dir) / name
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


def _add_totals(manifest: dict[str, Any]) -> dict[str, Any]:
    shards = manifest["shards"]
    manifest["num_items"] = sum(s["num_items"] for s in shards)
    manifest["num_frames"] = sum(s["num_frames"] for s in shards)
    manifest["total_duration"] = round(sum(it["duration"] for s in shards for it in s["items"]), 6)
    return manifest


def write_shard_manifest(shard_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` (its totals updated) atomically as the folder's ``manifest.json``, or
    as ``r0003-manifest.json`` when it is worker 3's part."""
    _add_totals(manifest)
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(shard_dir / manifest_file(manifest), text.encode("utf-8"), force=True)


_SAME_MODEL = ("model_fingerprint", "model_id", "sample_rate", "frame_rate", "groups", "levels")
_SAME_LAYOUT = ("codebook_size", "dtype")
Found = list[tuple[Path, dict[str, Any]]]


def find_manifests(shard_dirs: Sequence[str | os.PathLike[str]], parts: bool = False) -> Found:
    """``(folder, manifest)`` of each export in ``shard_dirs``, in the order their items go:
    whole exports (``manifest.json``) in the order given, or the worker manifests
    (``r*-manifest.json``) of one sharded export by worker index, all of them finished.
    ``parts``: a folder's worker manifests win over its ``manifest.json`` (a merge result).
    Mixed models or codebook counts, a missing or unfinished worker: a one-line ValueError."""
    wholes: Found = []
    workers: Found = []
    seen: set[Path] = set()
    for raw in shard_dirs:
        folder = Path(raw)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        if folder.resolve() in seen:
            raise ValueError(f"{folder}: shard folder given twice")
        seen.add(folder.resolve())
        names = sorted(p.name for p in folder.glob(f"r*-{MANIFEST_NAME}"))
        if (folder / MANIFEST_NAME).is_file() and not (parts and names):
            wholes.append((folder, read_shard_manifest(folder)))
        elif names:
            workers += [(folder, read_shard_manifest(folder, name)) for name in names]
        else:
            raise ValueError(
                f"{folder}: no {MANIFEST_NAME} or worker manifests (r*-{MANIFEST_NAME}) "
                "in it: not a token shard folder"
            )
    if wholes and workers:
        raise ValueError(
            f"{wholes[0][0]} holds a whole export, {workers[0][0]} worker parts: "
            "merge the parts first (codec merge-tokens), then give the merged folder"
        )
    found = wholes or _in_worker_order(workers)
    _check_alike(found)
    return found


def _in_worker_order(workers: Found) -> Found:
    """The worker manifests by index, after checking that they form one whole split."""
    counts = sorted({int(m["part"]["count"]) for _, m in workers})
    if len(counts) > 1:
        raise ValueError(f"worker manifests of different splits ({counts} workers): keep one run's")
    count, by_index = counts[0], dict[int, tuple[Path, dict[str, Any]]]()
    for folder, m in workers:
        index = int(m["part"]["index"])
        if index in by_index:
            raise ValueError(
                f"worker {index} of {count} found twice ({by_index[index][0]}, {folder})"
            )
        by_index[index] = (folder, m)
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        raise ValueError(
            f"worker(s) {', '.join(map(str, missing))} of {count} missing: not run yet, "
            "or their folders not given"
        )
    ordered = [by_index[i] for i in range(count)]
    for folder, m in ordered:
        if not m.get("complete"):
            raise ValueError(
                f"{folder / manifest_file(m)}: worker {m['part']['index']} of {count} has not "
                "finished (still running, or stopped: rerun it and it resumes)"
            )
    spans = [(int(m["part"]["start"]), int(m["part"]["stop"])) for _, m in ordered]
    totals = sorted({int(m["part"]["inputs"]) for _, m in ordered})
    stops = [0] + [stop for _, stop in spans]
    if len(totals) > 1 or [a for a, _ in spans] != stops[:-1] or stops[-1] != totals[0]:
        raise ValueError(
            f"the {count} workers split different input lists ({totals} inputs): "
            "give every worker the same inputs"
        )
    return ordered


def _check_alike(found: Found) -> None:
    """Every export of ``found`` made by the same model with the same codebooks."""
    first_dir, first = found[0]
    for folder, m in found[1:]:
        for key in _SAME_MODEL + _SAME_LAYOUT:
            if m.get(key) != first.get(key):
                what = "another model" if key in _SAME_MODEL[:2] else "another codebook layout"
                if key == "levels":
                    what = "another codebook count"
                raise ValueError(
                    f"{folder}: tokens of {what} than {first_dir} ({key} {m.get(key)!r} vs "
                    f"{first.get(key)!r}); only one model's tokens go together"
                )


def combine_manifests(manifests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One manifest over ``manifests`` (alike, in order): their shards and skipped files
    concatenated, complete when all are; without the worker ``part``."""
    if len(manifests) == 1 and "part" not in manifests[0]:
        return manifests[0]
    first = {k: v for k, v in manifests[0].items() if k != "part"}
    fields: dict[str, str] = {}
    for m in manifests:  # every export's carried fields (the first one's type where they differ)
        fields.update({k: v for k, v in m.get("fields", {}).items() if k not in fields})
    combined = {
        **first,
        "fields": fields,
        "shards": [s for m in manifests for s in m["shards"]],
        "skipped": [s for m in manifests for s in m.get("skipped", [])],
        "complete": all(m.get("complete", False) for m in manifests),
    }
    return _add_totals(combined)


class TokenShards:
    """Read-only, memory-mapped view of an exported shard directory.

    ``shard_dir``: one folder, or many (see :func:`find_manifests`): the exports of several
    corpora, read one after the other, or the folders of one export's workers, read in the
    single worker's order. ``shards[i]`` items are numbered globally in manifest order;
    :meth:`codes` returns a ``[K, T]`` numpy view (no copy) and :meth:`tokens` a
    :class:`~codec.tokens.Tokens` ready for ``codec.decode``.
    """

    def __init__(
        self, shard_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
    ) -> None:
        dirs = [shard_dir] if isinstance(shard_dir, (str, os.PathLike)) else list(shard_dir)
        if not dirs:
            raise ValueError("no shard folder given")
        found = find_manifests(dirs)
        self.root = Path(dirs[0])
        self.manifest = combine_manifests([m for _, m in found])
        roots = [folder for folder, m in found for _ in m["shards"]]
        # the folder each shard's sources are relative to (exports may come from different roots)
        self._audio_dirs = [
            folder / m.get("source_root", ".") for folder, m in found for _ in m["shards"]
        ]
        self._codes: list[np.ndarray] = []
        self._index: list[np.ndarray] = []
        self.items: list[ShardItem] = []
        k = self.num_codebooks
        for s, (root, entry) in enumerate(zip(roots, self.manifest["shards"])):
            codes = np.load(root / entry["codes"], mmap_mode="r", allow_pickle=False)
            index = np.load(root / entry["index"], mmap_mode="r", allow_pickle=False)
            if codes.ndim != 2 or codes.shape[0] != k or index.shape != (entry["num_items"], 2):
                raise ValueError(f"{root / entry['name']}: shard files do not match the manifest")
            if entry["num_items"] and int(index[-1, 0] + index[-1, 1]) > codes.shape[1]:
                raise ValueError(f"{root / entry['name']}: index points past the codes")
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
        item = self.items[i]
        return self._audio_dirs[item.shard] / item.source
