"""Audio manifests: one JSON record per line (path, duration, sample_rate, speaker, split).

Relative paths in a manifest are relative to the manifest's folder, so a dataset folder with its
manifest can be moved as a whole. Also: a recursive folder scanner, file lists, and the speech
set bundled in ``assets/speech``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codec.audio import AUDIO_EXTENSIONS, AudioError, audio_info
from codec.fileio import atomic_path, is_temp_name

__all__ = [
    "BUNDLED_SPEECH_DIR",
    "AudioRecord",
    "bundled_speech",
    "read_file_list",
    "read_manifest",
    "records_from_paths",
    "scan_audio_folder",
    "write_manifest",
]

BUNDLED_SPEECH_DIR = Path(__file__).resolve().parents[2] / "assets" / "speech"
"""The real-speech set shipped in the repository (present in a source checkout)."""

_CORE_KEYS = ("path", "duration", "sample_rate", "speaker", "split")


@dataclass(frozen=True)
class AudioRecord:
    """One audio file: absolute ``path``, ``duration`` (s), native ``sample_rate`` (Hz).

    ``speaker`` and ``split`` are optional labels; ``meta`` keeps any other manifest fields.
    """

    path: Path
    duration: float
    sample_rate: int
    speaker: str | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """Manifest row; ``path`` is made relative to ``root`` when it lies below it."""
        path = self.path
        if root is not None:
            try:
                path = path.resolve().relative_to(root.resolve())
            except ValueError:
                path = path.resolve()
        row: dict[str, Any] = {"path": path.as_posix(), "duration": round(self.duration, 6)}
        row |= {"sample_rate": self.sample_rate, "speaker": self.speaker, "split": self.split}
        row.update({k: v for k, v in self.meta.items() if k not in _CORE_KEYS})
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any], root: Path) -> AudioRecord:
        """Parse a manifest row; a relative ``path`` is resolved against ``root``."""
        missing = [k for k in ("path", "duration", "sample_rate") if k not in row]
        if missing:
            raise ValueError(f"manifest row lacks {missing}: {row}")
        path = Path(row["path"])
        meta = {k: v for k, v in row.items() if k not in _CORE_KEYS}
        speaker = None if row.get("speaker") is None else str(row["speaker"])
        split = None if row.get("split") is None else str(row["split"])
        return cls(
            path=path if path.is_absolute() else root / path,
            duration=float(row["duration"]),
            sample_rate=int(row["sample_rate"]),
            speaker=speaker,
            split=split,
            meta=meta,
        )


def read_manifest(
    path: str | os.PathLike[str],
    split: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> list[AudioRecord]:
    """Read a JSONL manifest; keep only ``split`` if given. Relative paths resolve against
    ``root`` (default: the manifest's folder). Blank lines are ignored; a bad line raises
    ``ValueError`` naming the file and line number."""
    manifest = Path(path)
    base = Path(root) if root is not None else manifest.parent
    records: list[AudioRecord] = []
    with open(manifest, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = AudioRecord.from_json(json.loads(line), base)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{manifest}:{number}: bad manifest line ({exc})") from None
            if split is None or record.split == split:
                records.append(record)
    return records


def write_manifest(
    path: str | os.PathLike[str],
    records: Iterable[AudioRecord],
    force: bool = False,
    relative: bool = True,
) -> Path:
    """Write ``records`` as JSONL atomically; paths below the manifest's folder are stored
    relative to it when ``relative``. Refuses to overwrite unless ``force``."""
    target = Path(path)
    root = target.parent if relative else None
    lines = [json.dumps(r.to_json(root), ensure_ascii=False) + "\n" for r in records]
    with atomic_path(target, force=force) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return target


def records_from_paths(
    paths: Iterable[str | os.PathLike[str]],
    split: str | None = None,
    speaker_fn: Callable[[Path], str | None] | None = None,
    skip_unreadable: bool = True,
    unreadable: list[Path] | None = None,
) -> list[AudioRecord]:
    """Build records (duration from the file header) for ``paths``; unreadable files are skipped
    when ``skip_unreadable`` (and appended to ``unreadable`` if given), else
    :class:`~codec.audio.AudioError` is raised."""
    records: list[AudioRecord] = []
    for raw in paths:
        path = Path(raw).resolve()
        try:
            info = audio_info(path)
        except AudioError:
            if skip_unreadable:
                if unreadable is not None:
                    unreadable.append(path)
                continue
            raise
        speaker = speaker_fn(path) if speaker_fn is not None else None
        records.append(AudioRecord(path, info.duration, info.sample_rate, speaker, split))
    return records


def scan_audio_folder(
    root: str | os.PathLike[str],
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    split: str | None = None,
    speaker_fn: Callable[[Path], str | None] | None = None,
    skip_unreadable: bool = True,
    unreadable: list[Path] | None = None,
) -> list[AudioRecord]:
    """Recursively find audio files under ``root`` by suffix (case-insensitive), sorted by path;
    our temp files (a killed writer's) are left out.

    ``speaker_fn(path)`` may derive a speaker label (e.g. ``lambda p: p.parent.name``).
    Unreadable files: see :func:`records_from_paths`.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in suffixes and p.is_file() and not is_temp_name(p.name)
    )
    return records_from_paths(paths, split, speaker_fn, skip_unreadable, unreadable)


def read_file_list(
    path: str | os.PathLike[str],
    split: str | None = None,
    skip_unreadable: bool = True,
    unreadable: list[Path] | None = None,
) -> list[AudioRecord]:
    """Records for a text file with one audio path per line (``#`` comments and blanks ignored;
    relative paths are relative to the list's folder). Unreadable files: see
    :func:`records_from_paths`."""
    listing = Path(path)
    lines = listing.read_text(encoding="utf-8").splitlines()
    entries = [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]
    paths = [p if Path(p).is_absolute() else listing.parent / p for p in entries]
    return records_from_paths(paths, split, None, skip_unreadable, unreadable)


def bundled_speech(split: str | None = None) -> list[AudioRecord]:
    """Records of the bundled real-speech set (``assets/speech``), optionally one ``split``
    (``"train"`` or ``"val"``). Raises ``FileNotFoundError`` outside a source checkout."""
    manifest = BUNDLED_SPEECH_DIR / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found (the bundled set ships with the repo)")
    return read_manifest(manifest, split=split)
