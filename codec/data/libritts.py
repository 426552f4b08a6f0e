"""LibriTTS manifest builder (no download here: see ``recipes/libritts/prepare.py``).

LibriTTS unpacks to ``LibriTTS/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav``
(24 kHz, 16-bit mono) with ``.normalized.txt`` / ``.original.txt`` transcripts beside each wav.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codec.audio import AudioError, audio_info
from codec.data.manifest import AudioRecord

__all__ = ["LIBRITTS_SUBSETS", "find_libritts_root", "scan_libritts"]

LIBRITTS_SUBSETS: dict[str, str] = {
    "train-clean-100": "train",
    "train-clean-360": "train",
    "train-other-500": "train",
    "dev-clean": "val",
    "dev-other": "val",
    "test-clean": "test",
    "test-other": "test",
}
"""Official subsets and the manifest split each maps to by default."""


def find_libritts_root(root: str | os.PathLike[str]) -> Path:
    """The folder holding the subset folders: ``root`` itself or ``root/LibriTTS``."""
    base = Path(root)
    for candidate in (base, base / "LibriTTS"):
        if any((candidate / subset).is_dir() for subset in LIBRITTS_SUBSETS):
            return candidate
    raise FileNotFoundError(f"{base}: no LibriTTS subset folders (e.g. train-clean-100) found")


def _record(path: Path, subset: str, split: str, include_text: bool) -> AudioRecord | None:
    """One utterance's record, or ``None`` if its header cannot be read."""
    try:
        info = audio_info(path)
    except AudioError:
        return None
    chapter = path.parent.name
    meta: dict[str, object] = {"id": path.stem, "subset": subset, "chapter": chapter}
    text_file = path.with_suffix(".normalized.txt")
    if include_text and text_file.is_file():
        meta["text"] = text_file.read_text(encoding="utf-8").strip()
    return AudioRecord(path, info.duration, info.sample_rate, path.parent.parent.name, split, meta)


def scan_libritts(
    root: str | os.PathLike[str],
    subsets: Iterable[str] | None = None,
    split_map: Mapping[str, str] | None = None,
    include_text: bool = False,
    num_threads: int = 8,
) -> list[AudioRecord]:
    """Records for every ``<subset>/<speaker>/<chapter>/*.wav`` under ``root`` (or
    ``root/LibriTTS``), sorted by subset then path.

    ``subsets`` defaults to those present; asking for a missing one raises ``FileNotFoundError``.
    ``split`` comes from ``split_map`` (default :data:`LIBRITTS_SUBSETS`), ``speaker`` from the
    speaker folder; ``meta`` holds ``id`` (the utterance id, the file's stem), ``subset``,
    ``chapter`` (and the normalised ``text`` when ``include_text``: what a TTS LM pairs with
    the tokens, carried by ``export-tokens``). Files whose header is unreadable are left out.
    """
    base = find_libritts_root(root)
    splits = dict(LIBRITTS_SUBSETS) | dict(split_map or {})
    wanted = list(subsets) if subsets is not None else [s for s in splits if (base / s).is_dir()]
    missing = [s for s in wanted if not (base / s).is_dir()]
    if missing:
        raise FileNotFoundError(f"{base}: missing LibriTTS subsets {missing}")
    jobs: list[tuple[Path, str, str]] = []
    for subset in wanted:
        paths = sorted((base / subset).glob("*/*/*.wav"))
        jobs += [(p, subset, splits.get(subset, "train")) for p in paths]
    with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
        found = pool.map(lambda job: _record(job[0], job[1], job[2], include_text), jobs)
        return [record for record in found if record is not None]
