"""What a TTS LM needs beside the codes: the input manifest's fields in the token manifest and
the Parquet files, relative paths only, codes in the smallest unsigned type, and outputs that
load without this package (Hugging Face ``datasets``, plain numpy / pyarrow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codec.data.manifest import AudioRecord
from codec.lm.export import export_tokens
from codec.lm.fields import field_kinds, record_fields
from codec.lm.shards import TokenShards
from codec.model import Codec

from .conftest import tiny_codec

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed")

TEXTS = ["the first one", None, "třetí věta", "quatrième", "la cinquième"]


def write_corpus(speech_dir: Path, root: Path) -> Path:
    """A corpus folder with a JSONL manifest: id, speaker, text (one missing), a field named
    like one of ours (``source``), a list-valued field only some rows have, and one
    unreadable file."""
    (root / "wavs").mkdir(parents=True)
    rows = []
    for i, wav in enumerate(sorted(speech_dir.glob("utt*.wav"))):
        shutil.copy(wav, root / "wavs" / wav.name)
        row = {"path": f"wavs/{wav.name}", "duration": 0.5, "sample_rate": 16000}
        row |= {"id": f"u{i}", "speaker": f"spk{i % 2}", "source": f"book/{i}", "lang": "xx"}
        if TEXTS[i] is not None:
            row["text"] = TEXTS[i]
        if i == 3:
            row["tags"] = ["a", "b"]
        rows.append(row)
    (root / "wavs" / "bad.wav").write_bytes(b"not audio")
    rows.append({"path": "wavs/bad.wav", "duration": 1.0, "sample_rate": 16000, "id": "bad"})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return manifest


@pytest.fixture
def exported(codec: Codec, speech_dir: Path, tmp_path: Path) -> Path:
    manifest = write_corpus(speech_dir, tmp_path / "corpus")
    with pytest.warns(UserWarning, match="bad.wav"):
        export_tokens(codec, manifest, tmp_path / "tokens", shard_size=700, parquet=True)
    return tmp_path / "tokens"


def test_manifest_fields_reach_the_token_manifest(exported: Path) -> None:
    shards = TokenShards(exported)
    assert len(shards.manifest["shards"]) >= 2  # fields must survive every shard
    kinds = shards.manifest["fields"]
    assert kinds == {
        "id": "string",
        "speaker": "string",
        "text": "string",
        "split": "string",
        "input_source": "string",
        "lang": "string",
        "tags": "json",
    }
    assert [it.fields["id"] for it in shards.items] == ["u0", "u1", "u2", "u3", "u4"]
    assert [it.fields["text"] for it in shards.items] == TEXTS
    assert [it.source for it in shards.items] == [f"wavs/utt{i}.wav" for i in range(5)]
    assert shards.items[3].fields["tags"] == ["a", "b"] and shards.items[0].fields["tags"] is None
    assert shards.items[2].fields["input_source"] == "book/2"
    assert shards.audio_path(0).resolve() == (exported.parent / "corpus/wavs/utt0.wav").resolve()
    assert shards.manifest["skipped"][0]["source"] == "wavs/bad.wav"


def test_parquet_has_one_column_per_field_and_unsigned_codes(exported: Path) -> None:
    shards = TokenShards(exported)
    files = [exported / s["parquet"] for s in shards.manifest["shards"]]
    schemas = {str(pq.read_schema(f)) for f in files}
    assert len(schemas) == 1  # one schema for every shard, so they load as one table
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert list(rows[0]) == [
        *shards.manifest["fields"],
        "source",
        "duration",
        "num_samples",
        "num_frames",
        "codes",
    ]
    assert [r["text"] for r in rows] == TEXTS and rows[1]["text"] is None
    assert [json.loads(r["tags"]) if r["tags"] else None for r in rows][3] == ["a", "b"]
    table = pq.read_table(files[0])
    assert str(table.schema.field("codes").type) == "list<element: list<element: uint16>>"
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(np.array(row["codes"]), shards.codes(i))
        assert row["source"] == shards.items[i].source and row["speaker"] == f"spk{i % 2}"


def test_small_codebooks_give_uint8_parquet(speech_dir: Path, tmp_path: Path) -> None:
    export_tokens(tiny_codec(codebook_size=256), speech_dir, tmp_path / "s", parquet=True)
    codes = pq.read_schema(tmp_path / "s" / "shard-00000.parquet").field("codes").type
    assert str(codes) == "list<element: list<element: uint8>>"


def test_no_absolute_path_anywhere_in_the_outputs(exported: Path, tmp_path: Path) -> None:
    needles = {str(tmp_path), str(tmp_path.resolve()), str(Path.cwd().resolve())}
    for path in exported.iterdir():
        data = path.read_bytes()
        assert not any(n.encode() in data for n in needles), path.name
    manifest = json.loads((exported / "manifest.json").read_text())

    def strings(value: object) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    found = strings(manifest)
    assert not [s for s in found if s.startswith(("/", "\\")) or ":\\" in s]


def test_field_kinds_and_clashes() -> None:
    def rec(**meta: object) -> AudioRecord:
        return AudioRecord(Path("/x.wav"), 1.0, 16000, meta=dict(meta))

    records = [rec(n=1, f=1, b=True, m=1), rec(n=2, f=2.5, b=False, m="a"), rec(duration=3)]
    assert field_kinds(records) == {
        "id": "string",
        "speaker": "string",
        "text": "string",
        "split": "string",
        "n": "int64",
        "f": "float64",
        "b": "bool",
        "m": "json",
        "input_duration": "int64",
    }
    assert record_fields(rec(id=7, text="hi"))["id"] == 7


LOADER = """
import json, sys
from pathlib import Path
import numpy as np
import pyarrow.parquet as pq
from datasets import load_dataset

out = Path(sys.argv[1])
files = sorted(str(p) for p in out.glob("*.parquet"))
ds = load_dataset("parquet", data_files=files, split="train", cache_dir=sys.argv[2])
table = pq.read_table(files[0])
manifest = json.loads((out / "manifest.json").read_text())
shard = manifest["shards"][0]
codes = np.load(out / shard["codes"], mmap_mode="r", allow_pickle=False)
offset, length = np.load(out / shard["index"], allow_pickle=False)[0]
first = codes[:, offset : offset + length]
print(json.dumps({
    "rows": len(ds), "text": list(ds["text"]), "id": list(ds["id"]),
    "codes0": np.asarray(ds[0]["codes"]).tolist(), "dtype": str(ds.features["codes"]),
    "pyarrow0": np.asarray(table.column("codes")[0].as_py()).tolist(),
    "numpy0": first.tolist(), "text0": shard["items"][0]["text"],
    "ours": sorted(m for m in sys.modules if m == "codec" or m.startswith("codec.")),
}))
"""


@pytest.mark.slow
def test_loads_with_datasets_and_numpy_without_our_package(exported: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets", reason="datasets not installed (the dev extra)")
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    env["HF_HOME"] = str(tmp_path / "hf")
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(exported), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: `codec` is not importable by accident
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    shards = TokenShards(exported)
    assert got["ours"] == []
    assert got["rows"] == 5 and got["text"] == TEXTS and got["id"] == ["u0", "u1", "u2", "u3", "u4"]
    assert "uint16" in got["dtype"]
    for key in ("codes0", "pyarrow0", "numpy0"):
        np.testing.assert_array_equal(np.array(got[key]), shards.codes(0))
    assert got["text0"] == TEXTS[0]


def counting_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch size of every ``Codec.encode`` call from now on."""
    calls: list[int] = []
    original = Codec.encode

    def encode(self: Codec, wav: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(wav))
        return original(self, wav, *args, **kwargs)

    monkeypatch.setattr(Codec, "encode", encode)
    return calls


def two_folders(speech_dir: Path, root: Path) -> tuple[Path, Path]:
    first, second = root / "a", root / "b"
    for folder, names in ((first, ["utt0.wav", "utt1.wav"]), (second, ["utt2.wav"])):
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(speech_dir / name, folder / name)
    return first, second


def test_resume_with_another_folder_keeps_the_first_root(
    codec: Codec, speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a folder on a rerun (the inputs' common root moves up) encodes only the new
    file, its path relative to the first run's root."""
    first, second = two_folders(speech_dir, tmp_path / "corpus")
    out = tmp_path / "tokens"
    export_tokens(codec, first, out)
    calls = counting_encodes(monkeypatch)
    again = export_tokens(codec, [first, second], out)
    assert calls == [1]
    sources = [it["source"] for s in again["shards"] for it in s["items"]]
    assert sources == ["utt0.wav", "utt1.wav", "../b/utt2.wav"]
    assert again["source_root"] == "../corpus/a"
    assert TokenShards(out).audio_path(2).resolve() == (second / "utt2.wav").resolve()


def test_resume_from_a_manifest_with_absolute_sources(
    codec: Codec, speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards written before sources were relative (no ``source_root``) are not redone."""
    first, second = two_folders(speech_dir, tmp_path / "corpus")
    out = tmp_path / "tokens"
    export_tokens(codec, first, out)
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("source_root", "fields"):
        del manifest[key]
    for item in manifest["shards"][0]["items"]:
        item["source"] = str((first / item["source"]).resolve())
    (out / "manifest.json").write_text(json.dumps(manifest))
    calls = counting_encodes(monkeypatch)
    again = export_tokens(codec, [first, second], out)
    assert calls == [1] and again["num_items"] == 3
    assert again["shards"][-1]["items"][0]["source"] == "b/utt2.wav"
