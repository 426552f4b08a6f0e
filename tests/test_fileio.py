from pathlib import Path

import pytest

from codec.fileio import atomic_path, atomic_write_bytes, read_versioned_json


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


def test_read_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    args = ("thing", "a thing", "fmt", 2)
    with pytest.raises(ValueError, match="cannot read thing"):
        read_versioned_json(path, *args)
    path.write_text("{")
    with pytest.raises(ValueError, match="thing .* is not valid JSON"):
        read_versioned_json(path, *args)
    path.write_text('{"format": "other", "format_version": 2}')
    with pytest.raises(ValueError, match="is not a thing"):
        read_versioned_json(path, *args)
    path.write_text('{"format": "fmt", "format_version": 1}')
    with pytest.raises(ValueError, match="unsupported format_version 1"):
        read_versioned_json(path, *args)
    path.write_text('{"format": "fmt", "format_version": 2, "x": [1]}')
    assert read_versioned_json(path, *args)["x"] == [1]
