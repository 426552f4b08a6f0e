"""Export a corpus to token shards (``export_tokens``; the ``codec export-tokens`` command).

The export is resumable: ``manifest.json`` lists only completed shards and is rewritten after
each one; on a rerun the completed shards are kept, inputs already in them are skipped, and
shard files the manifest does not list (a shard interrupted half-way) are removed and redone.
Utterances are never split across shards, and input order is kept, so a resumed export writes
the same shards as an uninterrupted one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.audio import AUDIO_EXTENSIONS, AudioError
from codec.data.manifest import (
    AudioRecord,
    read_manifest,
    records_from_paths,
)
from codec.errors import install_hint, one_line
from codec.lm import fields as carried
from codec.lm.batches import Encoded, Engine, encode_locally
from codec.lm.parquet import has_pyarrow, write_parquet
from codec.lm.shards import (
    SHARDS_FORMAT,
    SHARDS_VERSION,
    code_dtype,
    file_prefix,
    manifest_file,
    read_shard_manifest,
    shard_name,
    write_shard,
    write_shard_manifest,
)
from codec.model import Codec
from codec.sharding import ShardSpec

__all__ = ["DEFAULT_SHARD_FRAMES", "export_tokens", "has_pyarrow", "resolve_inputs"]

DEFAULT_SHARD_FRAMES = 1_000_000
_MANIFEST_SUFFIXES = (".jsonl", ".json")
_LIST_SUFFIXES = (".txt", ".lst", ".list")
_COMPAT_KEYS = ("model_id", "sample_rate", "frame_rate", "groups", "levels", "codebook_size")

Input = str | os.PathLike[str] | AudioRecord
Skip = Callable[[str, dict[str, str]], None]
"""Records a skipped input: its path as given, and its ``{"source", "reason"}`` entry."""


def resolve_inputs(
    inputs: Input | Iterable[Input], skipped: list[dict[str, str]] | None = None
) -> list[AudioRecord]:
    """Records for a folder (scanned recursively), a JSONL manifest, a text file list, an audio
    file, an :class:`AudioRecord`, or a list of these. Duplicates are dropped, order is kept.
    Files of folders and lists whose header cannot be read are left out; with ``skipped`` each
    is added there as ``{"source", "reason"}``, else a warning names it."""
    if isinstance(inputs, (str, os.PathLike, AudioRecord)):
        inputs = [inputs]
    records: list[AudioRecord] = []
    for item in inputs:
        if isinstance(item, AudioRecord):
            records.append(item)
            continue
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if path.suffix.lower() in _MANIFEST_SUFFIXES and not path.is_dir():
            records += read_manifest(path)
        elif path.is_dir() or path.suffix.lower() in _LIST_SUFFIXES:
            records += _readable(_listed_paths(path), skipped)
        else:
            records += records_from_paths([path], skip_unreadable=False)
    seen: set[str] = set()
    unique = []
    for record in records:
        key = _source(record)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _listed_paths(path: Path) -> list[Path]:
    """The audio files of a folder (recursive, sorted) or a text file list."""
    if path.is_dir():
        suffixes = set(AUDIO_EXTENSIONS)
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]
    return [Path(e) if Path(e).is_absolute() else path.parent / e for e in entries]


def _readable(paths: list[Path], skipped: list[dict[str, str]] | None) -> list[AudioRecord]:
    """Records of ``paths``; an unreadable one goes to ``skipped`` (or a warning) instead."""
    records: list[AudioRecord] = []
    for path in paths:
        try:
            records += records_from_paths([path], skip_unreadable=False)
        except AudioError as exc:
            reason = one_line(exc, path.resolve())
            if skipped is None:
                warnings.warn(f"skipping {path}: {reason}", stacklevel=4)
            else:
                skipped.append({"source": str(path.resolve()), "reason": reason})
    return records


def _source(record: AudioRecord) -> str:
    return str(Path(record.path).resolve())


def _header(codec: Codec, k: int, shard_frames: int) -> dict[str, Any]:
    return {
        "format": SHARDS_FORMAT,
        "format_version": SHARDS_VERSION,
        "model_id": codec.config.model_id,
        "model_fingerprint": codec.fingerprint,
        "sample_rate": codec.sample_rate,
        "frame_rate": codec.frame_rate,
        "hop_length": codec.hop_length,
        "groups": codec.groups,
        "levels": k // codec.groups,
        "num_codebooks": k,
        "codebook_size": codec.codebook_size,
        "codebook_sizes": [codec.codebook_size] * k,
        "dtype": code_dtype(codec.codebook_size).name,
        "shard_frames": shard_frames,
        "shards": [],
        "skipped": [],
        "complete": False,
    }


def _is_ours(path: Path, manifest: dict[str, Any]) -> bool:
    """A shard or manifest file (or temp file) of this export, or of this worker's part."""
    name = path.name.lstrip(".")
    return name.startswith(f"{file_prefix(manifest)}shard-") or name.startswith(
        manifest_file(manifest)
    )


def _prepare_dir(out: Path, header: dict[str, Any], force: bool) -> dict[str, Any]:
    """The manifest to continue from: a fresh one, or the existing one with its complete shards."""
    out.mkdir(parents=True, exist_ok=True)
    manifest, name = header, manifest_file(header)
    if (out / name).exists() and not force:
        old = read_shard_manifest(out, name)
        diff = [k for k in (*_COMPAT_KEYS, "part") if old.get(k) != header.get(k)]
        if old.get("model_fingerprint", header["model_fingerprint"]) != header["model_fingerprint"]:
            diff.append("model_fingerprint")  # older manifests have none: model_id decides
        if diff:
            raise ValueError(
                f"{out} holds shards of another model, layout or worker split "
                f"({', '.join(diff)} differ); use force=True (--force) to start over"
            )
        manifest = {**old, "shard_frames": header["shard_frames"], "complete": False}
        manifest["shards"] = [
            s
            for s in old["shards"]
            if (out / s["codes"]).is_file() and (out / s["index"]).is_file()
        ]
        if len(manifest["shards"]) < len(old["shards"]):
            warnings.warn(f"{out}: some listed shards are missing and will be redone", stacklevel=3)
        manifest["skipped"] = []
    keep = {f for s in manifest["shards"] for f in (s["codes"], s["index"], s.get("parquet"))}
    for path in out.iterdir():  # partial shards, temp files, or everything when forced
        if (
            path.is_file()
            and _is_ours(path, header)
            and path.name not in keep
            and path.name != name
        ):
            path.unlink()
    write_shard_manifest(out, manifest)
    return manifest


def export_tokens(
    codec: Codec,
    inputs: Input | Iterable[Input],
    out_dir: str | os.PathLike[str],
    num_codebooks: int | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    shard_size: int = DEFAULT_SHARD_FRAMES,
    force: bool = False,
    device: str | torch.device | None = None,
    parquet: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    shard: ShardSpec | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Encode ``inputs`` with ``codec`` into shards under ``out_dir``; returns the manifest.

    ``inputs``: see :func:`resolve_inputs`; each item keeps its manifest fields (``id``,
    ``speaker``, ``text``, ...: :mod:`codec.lm.fields`) and a path relative to the input root.
    ``num_codebooks`` keeps the first levels of each group (default: all). ``shard_size``:
    frames per shard (a shard closes once it holds at least this many). Audio loads in ``num_workers`` DataLoader workers; the model runs on
    ``device`` (default: CUDA when available, else CPU; the codec is moved there). ``parquet``
    also writes a ``.parquet`` per shard when pyarrow is installed (a warning otherwise).
    ``force`` deletes earlier shards in ``out_dir`` instead of resuming. Unreadable or too-short
    files are skipped and listed under ``skipped`` with the reason; each is reported as
    ``on_skip(path, reason)``, or a warning without it. ``progress(done, total)`` is called
    with the inputs handled so far of those to encode: once before the first batch, then after
    each. ``shard``: this worker's run of the inputs (cut on batches), written as its ``part``
    (:mod:`codec.lm.shards`). ``engine`` runs the batches elsewhere (:mod:`codec.lm.batches`).
    """
    _check_sizes(shard_size, batch_size, num_workers)
    k = codec.check_num_codebooks(num_codebooks)
    unreadable: list[dict[str, str]] = []
    given = [inputs] if isinstance(inputs, (str, os.PathLike, AudioRecord)) else list(inputs)
    records, root = resolve_inputs(given, unreadable), carried.input_root(given)
    spec, header, every = shard or ShardSpec(), _header(codec, k, shard_size), records
    if spec.count > 1:  # this worker's run; worker 0 lists the unreadable, first as one does
        start, stop = spec.bounds(len(records), batch_size)
        header["part"] = {"index": spec.index, "count": spec.count, "start": start, "stop": stop}
        header["part"]["inputs"] = len(records)
        records, unreadable = records[start:stop], unreadable if spec.index == 0 else []
    if parquet and not has_pyarrow():
        warnings.warn(
            f"pyarrow is not installed: Parquet output skipped ({install_hint('lm')})", stacklevel=2
        )
        parquet = False
    out = Path(out_dir)
    manifest = _prepare_dir(out, header, force)
    root = carried.describe(manifest, every, out, root)  # fields (all workers' alike), source_root
    todo = carried.pending(records, manifest, root)

    def skip(path: str, entry: dict[str, str]) -> None:
        entry = carried.relative_entry(entry, root)  # no absolute path in the outputs
        manifest["skipped"].append(entry)
        if on_skip is None:
            warnings.warn(f"skipping {path}: {entry['reason']}", stacklevel=4)
        else:
            on_skip(path, entry["reason"])

    for entry in unreadable:
        skip(entry["source"], entry)
    say = log or (lambda _msg: None)
    say(
        f"{len(records) - len(todo)} of {len(records)} inputs already exported; encoding {len(todo)}"
    )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else codec.device))
    codec.to(device).eval()
    dtype = np.dtype(manifest["dtype"])
    writer = _ShardWriter(out, manifest, dtype, shard_size, parquet, say, root)
    batches = (engine or encode_locally(num_workers))(codec, todo, k, batch_size)
    _write_all(batches, todo, skip, writer, progress)
    writer.flush()
    manifest["complete"] = True
    write_shard_manifest(out, manifest)
    say(f"wrote {len(manifest['shards'])} shards, {manifest['num_items']} items to {out}")
    return manifest


def _write_all(
    batches: Iterable[list[Encoded]],
    todo: Sequence[AudioRecord],
    skip: Skip,
    writer: _ShardWriter,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write every encoded batch into ``writer`` (failures to ``skip``); ``progress(done,
    total)`` before the first batch and after each."""
    tick = progress or (lambda _done, _total: None)
    tick(0, len(todo))
    handled = 0
    for batch in batches:
        for i, codes, n in batch:
            if isinstance(codes, str):
                skip(str(todo[i].path), {"source": _source(todo[i]), "reason": codes})
            else:
                writer.add(todo[i], codes, n)
        handled += len(batch)
        tick(handled, len(todo))


def _check_sizes(shard_size: int, batch_size: int, num_workers: int) -> None:
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive number of frames, got {shard_size!r}")
    if batch_size < 1 or num_workers < 0:
        raise ValueError(
            f"batch_size must be >= 1 and num_workers >= 0, got {batch_size}, {num_workers}"
        )


class _ShardWriter:
    """Buffers utterances and writes a shard once ``shard_size`` frames are collected; item
    sources are stored relative to ``root``."""

    def __init__(
        self,
        out: Path,
        manifest: dict[str, Any],
        dtype: np.dtype,
        shard_size: int,
        parquet: bool,
        log: Callable[[str], None],
        root: Path,
    ) -> None:
        self.out, self.manifest, self.dtype, self.root = out, manifest, dtype, root
        self.shard_size, self.parquet, self.log = shard_size, parquet, log
        names = [int(s["name"].split("-")[-1]) for s in manifest["shards"]]
        self.next_number = max(names, default=-1) + 1
        self.codes: list[np.ndarray] = []
        self.items: list[dict[str, Any]] = []

    def add(self, record: AudioRecord, codes: np.ndarray, num_samples: int) -> None:
        self.codes.append(codes)
        self.items.append(
            {
                "source": carried.relative_source(record.path, self.root),
                **carried.record_fields(record),
                "duration": round(num_samples / int(self.manifest["sample_rate"]), 6),
                "num_samples": num_samples,
                "num_frames": int(codes.shape[1]),
            }
        )
        if sum(c.shape[1] for c in self.codes) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        if not self.codes:
            return
        name = shard_name(self.next_number, file_prefix(self.manifest))
        entry = write_shard(self.out, name, self.codes, self.dtype)
        if self.parquet:
            kinds = self.manifest["fields"]
            entry["parquet"] = write_parquet(
                self.out, name, self.items, self.codes, kinds, self.dtype
            )
        entry["items"] = self.items
        self.manifest["shards"].append(entry)
        write_shard_manifest(self.out, self.manifest)  # the shard counts as done from here on
        self.log(f"{name}: {entry['num_items']} items, {entry['num_frames']} frames")
        self.next_number += 1
        self.codes, self.items = [], []
