"""File helpers: atomic writes (a temp file or folder beside the destination, then a rename)
and reading a versioned JSON document.

``mkstemp``/``mkdtemp`` create private temp files (0600) and folders (0700); the outputs are
given the mode a plain ``open()``/``mkdir()`` would have (0666/0777 less the umask) before they
appear, so exports, tokens and reports are as readable as any other file the user writes.

Every temp name has one shape, ``.<name>.<pid>.<random>.tmp[<suffix>]`` (``.old`` for a folder
being swapped out): :func:`is_temp_name` recognises it, so folder scans skip our temp files,
and :func:`remove_stale_temps` deletes those whose process is gone (a ``kill -9``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()

# .<name>.<pid>.<8 mkstemp characters>.tmp|old[.suffix]; names from before the pid was added
# (.<name>.<random>.tmp.wav) match too, with no pid.
_TEMP_NAME = re.compile(
    r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.(?:tmp|old)(?:\.\w+)?$"
)


def is_temp_name(name: str) -> bool:
    """Whether a file or folder name is one of our atomic-write temp names."""
    return _TEMP_NAME.match(name) is not None


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Delete our temp files and folders in ``folder`` (and below it when ``recursive``) whose
    writing process is no longer running; returns what was removed. Temp files of a live
    process (another run writing into the same folder) are left alone."""
    removed: list[Path] = []
    found = Path(folder).rglob(".*") if recursive else Path(folder).glob(".*")
    for path in sorted(found):
        match = _TEMP_NAME.match(path.name)
        if match is None:
            continue
        if match["pid"] is not None and _alive(int(match["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


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
    exception in the body, Ctrl-C, SIGTERM in the CLI) the temp file is removed, so no partial
    output is left (after a ``kill -9``, see :func:`remove_stale_temps`).
    """
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force / force=True to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_temp_prefix(target), suffix=f".tmp{target.suffix}", dir=target.parent
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
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        if target.exists():
            # rename() cannot replace a non-empty folder: move the old one aside first
            old = Path(
                tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".old", dir=target.parent)
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
