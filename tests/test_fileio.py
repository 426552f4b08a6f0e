import os
from pathlib import Path

import pytest

from codec.fileio import atomic_dir, atomic_path, atomic_write_bytes, read_versioned_json
from codec.fileio import umask as process_umask
from tests.conftest import mode


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(OSError, match="No space"), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_kept_without_force(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="force"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    atomic_write_bytes(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize(
    "text,match",
    [
        (None, "cannot read thing"),
        ("{", "thing .* is not valid JSON"),
        ('{"format": "other", "format_version": 2}', "is not a thing"),
        ('{"format": "fmt", "format_version": 1}', "unsupported format_version 1"),
    ],
)
def test_read_versioned_json_refuses(tmp_path: Path, text: str | None, match: str) -> None:
    path = tmp_path / "doc.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_versioned_json(path, "thing", "a thing", "fmt", 2)


def test_read_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"format": "fmt", "format_version": 2, "x": [1]}')
    assert read_versioned_json(path, "thing", "a thing", "fmt", 2)["x"] == [1]


def test_atomic_dir_replaces_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
        assert not target.exists()  # nothing visible until the body succeeds
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_atomic_dir_failure_keeps_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_outputs_respect_the_umask(tmp_path: Path, umask: int) -> None:
    """Like a file from ``open()``: 0644 / folders 0755 under umask 022, 0600 / 0700 under 077
    (``mkstemp`` alone would leave every output 0600, unreadable by the user's group)."""
    with atomic_path(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"a")
    atomic_write_bytes(tmp_path / "b.bin", b"b")
    with atomic_dir(tmp_path / "snap") as tmp:
        atomic_write_bytes(tmp / "c.bin", b"c")
        (tmp / "d.txt").write_text("d")
    files = [tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "snap" / "c.bin"]
    assert [mode(p) for p in files] == [0o666 & ~umask] * 3
    assert mode(tmp_path / "snap" / "d.txt") == 0o666 & ~umask
    assert mode(tmp_path / "snap") == 0o777 & ~umask
    assert {0o022: 0o644, 0o077: 0o600}[umask] == mode(tmp_path / "a.bin")


def test_overwrite_respects_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new", force=True)
    with atomic_dir(tmp_path / "snap"):
        pass
    with atomic_dir(tmp_path / "snap"):  # replaces the existing folder
        pass
    assert (mode(target), mode(tmp_path / "snap")) == (0o666 & ~umask, 0o777 & ~umask)


def test_reading_the_umask_leaves_it(umask: int) -> None:
    assert process_umask() == umask
    assert os.umask(umask) == umask
