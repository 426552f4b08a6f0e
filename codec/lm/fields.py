"""What travels with each utterance's codes: its input manifest's fields and a relative path.

A TTS language model needs the transcript and speaker beside the codes, and a token set must be
movable to another machine, so the export carries every field of the input manifest (``id``,
``speaker``, ``text``, ``split`` and any extra ones) into the token manifest and the Parquet
files, and stores every path relative to the input root (never absolute).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from codec.data.manifest import AudioRecord

__all__ = [
    "ALWAYS",
    "RESERVED",
    "describe",
    "field_kinds",
    "input_root",
    "pending",
    "record_fields",
    "relative_entry",
    "relative_source",
]

ALWAYS = ("id", "speaker", "text", "split")
"""Fields every export carries (null where the input has none)."""

RESERVED = ("source", "duration", "num_samples", "num_frames", "codes")
"""Our own per-utterance fields; an input field of the same name is kept as ``input_<name>``."""


def input_root(inputs: Iterable[str | os.PathLike[str] | AudioRecord]) -> Path:
    """The folder the exported paths are relative to: the deepest folder holding every input's
    root (a scanned folder itself; a manifest's, file list's or audio file's folder)."""
    roots = []
    for item in inputs:
        if isinstance(item, AudioRecord):
            roots.append(Path(item.path).resolve().parent)
            continue
        path = Path(item).resolve()
        roots.append(path if path.is_dir() else path.parent)
    return Path(os.path.commonpath(roots)) if roots else Path.cwd().resolve()


def describe(
    manifest: dict[str, Any], records: Sequence[AudioRecord], out: Path, root: Path
) -> Path:
    """Put in an export's ``manifest`` the carried fields' types (``fields``, the Parquet
    schema) and the root its sources are relative to (``source_root``, relative to the shard
    folder ``out``); returns that root. A resumed export keeps its first run's root, so the
    items of both runs stay comparable."""
    stored = manifest.get("source_root")
    root = root if stored is None else (out / stored).resolve()
    manifest["fields"] = field_kinds(records)
    manifest["source_root"] = relative_source(root, out.resolve())
    return root


def pending(
    records: Sequence[AudioRecord], manifest: dict[str, Any], root: Path
) -> list[AudioRecord]:
    """The ``records`` no shard of ``manifest`` holds yet (sources relative to ``root``)."""
    done = {relative_source(it["source"], root) for s in manifest["shards"] for it in s["items"]}
    return [r for r in records if relative_source(r.path, root) not in done]


def relative_source(path: str | os.PathLike[str], root: Path) -> str:
    """``path`` relative to ``root`` (POSIX separators; ``..`` where it lies outside)."""
    if not Path(path).is_absolute():
        return Path(path).as_posix()  # already relative (an earlier export's entry)
    return Path(os.path.relpath(Path(path).resolve(), root)).as_posix()


def relative_entry(entry: dict[str, str], root: Path) -> dict[str, str]:
    """A ``skipped`` entry ``{"source", "reason"}`` with the source path made relative, also
    where the reason quotes it."""
    absolute = entry["source"]
    source = relative_source(absolute, root)
    reason = entry["reason"].replace(absolute, source).replace(f"{root}{os.sep}", "")
    return {**entry, "source": source, "reason": reason}


def record_fields(record: AudioRecord) -> dict[str, Any]:
    """The fields of ``record`` the export carries: :data:`ALWAYS` first, then the extra
    manifest fields in their order (renamed ``input_<name>`` where they clash with ours)."""
    meta = dict(record.meta)
    row: dict[str, Any] = {
        "id": meta.pop("id", None),
        "speaker": record.speaker,
        "text": meta.pop("text", None),
        "split": record.split,
    }
    for key, value in meta.items():
        row[f"input_{key}" if key in RESERVED else key] = value
    return row


def field_kinds(records: Sequence[AudioRecord]) -> dict[str, str]:
    """Each carried field's column type over all ``records``: ``bool``, ``int64``, ``float64``,
    ``string``, or ``json`` (mixed types, lists, objects: stored as JSON text in Parquet).
    Fixed before the first shard, so every shard's Parquet file has the same schema."""
    values: dict[str, list[Any]] = {name: [] for name in ALWAYS}
    for record in records:
        for name, value in record_fields(record).items():
            values.setdefault(name, []).append(value)
    return {name: _kind(found) for name, found in values.items()}


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "string"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if any(isinstance(v, bool) for v in present):
        return "json"
    if all(isinstance(v, int) for v in present):
        return "int64"
    if all(isinstance(v, (int, float)) for v in present):
        return "float64"
    if all(isinstance(v, str) for v in present):
        return "string"
    return "json"
