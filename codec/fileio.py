"""File helpers: atomic writes (a temp file or folder beside the destination, then a rename)
and reading a versioned JSON document.

``mkstemp``/``mkdtemp`` create private temp files (0600) and folders (0700); the outputs are
given the mode a plain ``open()``/``mkdir()`` would have (0666/0777 less the umask) before they
appear, so exports, tokens and reports are as readable as any other file the user writes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()


def umask() -> int:
    """The process umask. Reading it means setting it: the stricter 0o077 is in force for
    the instant in between, and the lock keeps two threads from restoring each other's value."""
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The mode ``open()`` (0o666) or ``mkdir()`` (0o777) gives a new file or folder."""
    return (0o777 if directory else 0o666) & ~umask()


@contextmanager
def atomic_path(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path``.

    Refuses to overwrite an existing file unless ``force``. On any failure (disk full,
    exception in the body) the temp file is removed, so no partial output is left.
    """
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force / force=True to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, default_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` (an existing
    folder there is swapped out and removed), so readers see the old folder or the complete
    new one, never a half-written one. On failure the temp folder is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        if target.exists():
            # rename() cannot replace a non-empty folder: move the old one aside first
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_versioned_json(path: Path, what: str, kind: str, fmt: str, version: int) -> dict[str, Any]:
    """The JSON object at ``path`` whose ``format`` is ``fmt`` and ``format_version`` is
    ``version``; otherwise a one-line ValueError naming ``what`` ("model config") or
    ``kind`` ("a codec model config")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{path} is not {kind} (format != {fmt!r})")
    if data.get("format_version") != version:
        raise ValueError(f"{path}: unsupported format_version {data.get('format_version')!r}")
    return data
