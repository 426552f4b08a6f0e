"""Which checkpoint a run resumes from, and keeping the previous good ``last.ckpt``.

Every save of ``last.ckpt`` first moves the one it replaces to ``last.prev.ckpt`` (a torn
``last.ckpt`` is replaced, not kept). ``resume=auto`` resumes from ``last.ckpt``; if that file
is unreadable (truncated, corrupt) it says so in one line and resumes from the newest readable
checkpoint (``last.prev.ckpt``, then the periodic ones), so a restarted job keeps going and
loses at most one checkpoint interval. With no readable checkpoint, or a ``resume=PATH`` that
is unreadable, training stops with one line naming the file.
"""

from __future__ import annotations

import os
import sys
import zipfile
import zlib
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only

from codec.fileio import remove_stale_temps

__all__ = ["LAST", "PREVIOUS", "checkpoint_problem", "find_resume", "keep_previous"]

LAST = "last.ckpt"
PREVIOUS = "last.prev.ckpt"


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a checkpoint to resume from (one line), or ``None``.

    Checkpoints are zip archives (``torch.save``): a truncated file has no zip directory, a
    corrupt one fails a member's CRC. The whole file is read, but nothing is unpickled."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except FileNotFoundError:
        return "no such file"
    except (zipfile.BadZipFile, EOFError, zlib.error):
        return "truncated or not a checkpoint"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if bad is None else f"corrupt ({bad} fails its checksum)"


def keep_previous(target: Path) -> None:
    """Before ``target`` (``last.ckpt``) is replaced, move the current one to
    ``last.prev.ckpt`` if it is a complete zip (a cheap check: the zip directory at its end)."""
    if target.name == LAST and target.is_file() and zipfile.is_zipfile(target):
        os.replace(target, target.with_name(PREVIOUS))


def find_resume(resume: str, run_dir: Path) -> str | None:
    """The checkpoint to resume from: ``none`` (or empty) none, ``auto`` the run's newest
    readable one (see the module docstring), else ``resume`` itself if it is readable.
    Raises ``FileNotFoundError`` / ``ValueError`` with one line otherwise."""
    folder = run_dir / "checkpoints"
    for place in (run_dir, folder, run_dir / "snapshots"):  # a run killed while saving
        if place.is_dir():
            remove_stale_temps(place)
    if resume in ("", "none", "never"):
        return None
    if resume != "auto":
        if not Path(resume).exists():
            raise FileNotFoundError(f"resume checkpoint not found: {resume}")
        problem = checkpoint_problem(Path(resume))
        if problem is not None:
            raise ValueError(f"resume={resume}: unreadable checkpoint ({problem})")
        return resume
    last = folder / LAST
    candidates = [last, folder / PREVIOUS, *_periodic(folder)]
    present = [p for p in candidates if p.is_file()]
    if not present:
        return None
    for path in present:
        problem = checkpoint_problem(path)
        if problem is None:
            if path != present[0]:
                _warn(present[0], path)
            return str(path)
    raise ValueError(
        f"{present[0]}: unreadable checkpoint ({checkpoint_problem(present[0])}) and no other "
        f"readable checkpoint in {folder}; resume=none starts afresh"
    )


def _periodic(folder: Path) -> list[Path]:
    """The periodic checkpoints, newest first."""
    found = [p for p in folder.glob("*.ckpt") if p.name not in (LAST, PREVIOUS)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _warn(bad: Path, good: Path) -> None:
    if rank_zero_only.rank == 0:  # type: ignore[attr-defined]
        problem = checkpoint_problem(bad) or "missing"
        print(
            f"warning: {bad}: unreadable checkpoint ({problem}); resuming from {good}, the "
            "newest readable one",
            file=sys.stderr,
        )
