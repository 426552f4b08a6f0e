from pathlib import Path

import pytest

from codec.data.manifest import AudioRecord, write_manifest
from codec.lightning.config import DataConfig
from codec.lightning.data import load_records, resolve_data_path
from codec.lightning.trainer import build_datamodule
from codec.model import Codec
from tests.lightning.conftest import tiny_codec_config


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


def test_training_data_has_the_models_channels() -> None:
    codec = Codec(tiny_codec_config("model.seanet.channels=2"))
    data = build_datamodule(DataConfig(frames_per_crop=4, batch_size=2, val_items=2), codec)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch.wav.shape == (2, 2, 4 * codec.hop_length)
    val = next(iter(data.val_dataloader()))
    assert val.wav.shape[:2] == (2, 2)


def test_bundled_speech_missing_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package (no assets/ beside it) asked for the default data."""
    import codec.lightning.data as data

    monkeypatch.setattr(data, "REPO_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        load_records("assets/speech/train")
    message = str(err.value)
    assert message.startswith("data path not found: assets/speech/train (")
    assert "data.train=DIR data.val=DIR" in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match=r"^data path not found: /nope/x$"):
        load_records("/nope/x")
