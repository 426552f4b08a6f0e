from pathlib import Path

import pytest

from codec.data.manifest import AudioRecord, write_manifest
from codec.lightning.data import load_records, resolve_data_path


def test_manifest_split_is_selected(tmp_path: Path) -> None:
    wavs = sorted(resolve_data_path("assets/speech/train").glob("*.flac"))[:3]
    records = [
        AudioRecord(p, 1.0, 16000, "s", split) for p, split in zip(wavs, ["train", "val", "train"])
    ]
    manifest = write_manifest(tmp_path / "m.jsonl", records, relative=False)
    assert [r.path.name for r in load_records(str(manifest), "train")] == [
        wavs[0].name,
        wavs[2].name,
    ]
    assert [r.path.name for r in load_records(str(manifest), "val")] == [wavs[1].name]


def test_bundled_paths_resolve_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(load_records("assets/speech/val", "val")) >= 3
    with pytest.raises(FileNotFoundError, match="data path not found"):
        load_records("no/such/folder")
