from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from codec.audio import save_audio
from codec.data import AudioRecord, read_file_list, read_manifest, scan_audio_folder, write_manifest


def _tree(root: Path) -> list[Path]:
    paths = [root / "spk1" / "a.wav", root / "spk1" / "sub" / "b.FLAC", root / "spk2" / "c.flac"]
    for i, path in enumerate(paths):
        save_audio(path, torch.zeros(1, 1600 * (i + 1)), 16_000)
    (root / "notes.txt").write_text("not audio")
    (root / "spk2" / "broken.wav").write_bytes(b"nope")
    return paths


def test_scan_folder(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    records = scan_audio_folder(tmp_path, split="train", speaker_fn=lambda p: p.parts[-2])
    assert [r.path for r in records] == sorted(p.resolve() for p in paths)
    assert [r.duration for r in records] == pytest.approx([0.1, 0.2, 0.3])
    assert {r.speaker for r in records} == {"spk1", "sub", "spk2"}
    assert all(r.sample_rate == 16_000 and r.split == "train" for r in records)
    only_wav = scan_audio_folder(tmp_path, extensions=["wav"], skip_unreadable=True)
    assert [r.path.name for r in only_wav] == ["a.wav"]


def test_manifest_round_trip_with_relative_paths(tmp_path: Path) -> None:
    _tree(tmp_path / "data")
    records = scan_audio_folder(tmp_path / "data", split="train")
    extra = AudioRecord(Path("/elsewhere/x.wav"), 1.5, 24_000, "s9", "val", {"text": "hi"})
    manifest = write_manifest(tmp_path / "m.jsonl", [*records, extra])
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert rows[0]["path"] == "data/spk1/a.wav" and rows[-1]["path"] == "/elsewhere/x.wav"
    back = read_manifest(manifest)
    assert back == [*records, extra] and back[-1].meta == {"text": "hi"}
    assert read_manifest(manifest, split="val") == [extra]
    with pytest.raises(FileExistsError):
        write_manifest(manifest, records)
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "data").rename(moved / "data")
    (tmp_path / "m.jsonl").rename(moved / "m.jsonl")
    assert read_manifest(moved / "m.jsonl", split="train")[0].path.is_file()


def test_bad_manifest_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "a.wav", "duration": 1, "sample_rate": 16000}\n\n{"path": "b.wav"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3"):
        read_manifest(bad)


def test_file_list(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# comment\nspk1/a.wav\n\n{paths[2]}\nmissing.wav\n")
    records = read_file_list(listing, split="val")
    assert [r.path.name for r in records] == ["a.wav", "c.flac"]
