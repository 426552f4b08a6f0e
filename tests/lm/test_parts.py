"""Sharded export: N workers' parts read and merged equal the single worker's export (the
command, with worker processes: tests/cli/test_shard_workers.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from codec.lm.dataset import TokenShardDataset
from codec.lm.export import export_tokens
from codec.lm.merge import merge_tokens
from codec.lm.shards import TokenShards, read_shard_manifest
from codec.model import Codec
from codec.sharding import ShardSpec

from .conftest import tiny_codec

pytestmark = pytest.mark.filterwarnings("ignore:skipping")  # the short and broken files


@pytest.fixture
def corpus(speech_dir: Path, tmp_path: Path) -> Path:
    """The five utterances, one too short to encode and one unreadable file."""
    folder = tmp_path / "corpus"
    shutil.copytree(speech_dir, folder)
    sf.write(folder / "utt2b_short.wav", np.zeros(5, dtype=np.float32), 16000)
    (folder / "utt0b_broken.wav").write_bytes(b"RIFF....garbage")
    return folder


def entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [it for s in manifest["shards"] for it in s["items"]]


def assert_same_export(
    shards: TokenShards, single: TokenShards, ignore: set[str] | None = None
) -> None:
    """Same items (source, fields, duration, samples, frames), same order, same codes, same
    skipped, same header (but for ``ignore``)."""
    assert entries(shards.manifest) == entries(single.manifest)
    assert shards.manifest["skipped"] == single.manifest["skipped"]
    for i in range(len(single)):
        np.testing.assert_array_equal(shards.codes(i), single.codes(i))
    ignore = {"shards", "shard_frames", *(ignore or ())}
    assert {k: v for k, v in shards.manifest.items() if k not in ignore} == {
        k: v for k, v in single.manifest.items() if k not in ignore
    }


def export(codec: Codec, corpus: Path, out: Path, spec: ShardSpec | None = None) -> dict:
    return export_tokens(codec, corpus, out, batch_size=2, shard_size=300, shard=spec)


def test_two_workers_in_one_folder_equal_one_worker(
    codec: Codec, corpus: Path, tmp_path: Path
) -> None:
    export(codec, corpus, tmp_path / "single")
    single = TokenShards(tmp_path / "single")
    out = tmp_path / "parts"
    first = export(codec, corpus, out, ShardSpec(0, 2))
    with pytest.raises(ValueError, match=r"worker\(s\) 1 of 2 missing"):
        TokenShards(out)
    second = export(codec, corpus, out, ShardSpec(1, 2))
    assert first["part"]["stop"] == second["part"]["start"] == 2  # cut on a batch boundary
    assert first["part"]["inputs"] == 6  # the broken file is not an input; worker 0 lists it
    assert not second["skipped"] or "broken" not in json.dumps(second["skipped"])
    names = sorted(p.name for p in out.iterdir())
    assert "r0000-manifest.json" in names and "r0001-manifest.json" in names
    assert {n[:6] for n in names} == {"r0000-", "r0001-"}  # rank-prefixed: nothing clashes
    assert_same_export(TokenShards(out), single)
    # a rerun of worker 0 resumes its own part and leaves worker 1's files alone
    again = export(codec, corpus, out, ShardSpec(0, 2))
    assert again["shards"] == first["shards"]
    assert sorted(p.name for p in out.iterdir()) == names

    merged = merge_tokens([out], out)
    assert (out / "manifest.json").is_file() and merged["complete"]
    assert_same_export(TokenShards(out), single)
    with pytest.raises(FileExistsError, match="--force"):
        merge_tokens([out], out)


def test_workers_in_separate_folders_read_and_merge(
    codec: Codec, corpus: Path, tmp_path: Path
) -> None:
    export(codec, corpus, tmp_path / "single")
    single = TokenShards(tmp_path / "single")
    # at different depths: each folder's sources are relative to its own place
    folders = [tmp_path / "w0", tmp_path / "deep" / "w1", tmp_path / "w2"]
    for i, folder in enumerate(folders):
        export(codec, corpus, folder, ShardSpec(i, 3))
    unmerged = TokenShards(folders[1:] + folders[:1])  # read in worker order, whatever given
    assert_same_export(unmerged, single, ignore={"source_root"})
    merge_tokens(folders, tmp_path / "out" / "merged")
    merged = TokenShards(tmp_path / "out" / "merged")
    assert_same_export(merged, single, ignore={"source_root"})
    assert merged.manifest["source_root"] == "../../corpus"
    for shards in (unmerged, merged):
        paths = [shards.audio_path(i).resolve() for i in range(len(shards))]
        assert paths == [single.audio_path(i).resolve() for i in range(len(single))]
        assert all(p.is_file() for p in paths)
    shutil.rmtree(folders[1])  # the merged folder holds its own links to the files
    assert_same_export(TokenShards(tmp_path / "out" / "merged"), single, ignore={"source_root"})
    data = TokenShardDataset(tmp_path / "out" / "merged", layout="flatten", random_crop=False)
    assert len(data) == len(single)


def test_dataset_over_many_whole_exports(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    files = sorted(speech_dir.glob("*.wav"))
    export_tokens(codec, files[:2], tmp_path / "a")
    export_tokens(codec, files[2:], tmp_path / "b")
    export_tokens(codec, files, tmp_path / "all")
    both = TokenShardDataset([tmp_path / "a", tmp_path / "b"], random_crop=False)
    whole = TokenShardDataset(tmp_path / "all", random_crop=False)
    assert len(both) == len(whole) == 5
    for i in range(5):
        assert (both[i]["ids"] == whole[i]["ids"]).all()
    assert both.shards.sources() == whole.shards.sources()


def test_refusals_are_one_line(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    def fails(dirs: list[Path], needle: str) -> None:
        for attempt in (lambda: TokenShards(dirs), lambda: merge_tokens(dirs, tmp_path / "m")):
            with pytest.raises(ValueError, match=needle) as info:
                attempt()
            assert "\n" not in str(info.value)

    part = {"batch_size": 1, "shard_size": 300}
    export_tokens(codec, speech_dir, tmp_path / "w0", shard=ShardSpec(0, 2), **part)
    export_tokens(codec, speech_dir, tmp_path / "w1", shard=ShardSpec(1, 2), **part)
    # another model (a different seed), another codebook count, another split
    export_tokens(tiny_codec(seed=1), speech_dir, tmp_path / "o1", shard=ShardSpec(1, 2), **part)
    export_tokens(
        codec, speech_dir, tmp_path / "k1", shard=ShardSpec(1, 2), num_codebooks=2, **part
    )
    export_tokens(codec, speech_dir, tmp_path / "s1", shard=ShardSpec(1, 3), **part)
    fails([tmp_path / "w0", tmp_path / "o1"], "another model")
    fails([tmp_path / "w0", tmp_path / "k1"], "another codebook count")
    fails([tmp_path / "w0", tmp_path / "s1"], "different splits")
    fails([tmp_path / "w0", tmp_path / "w0"], "given twice")
    (tmp_path / "empty").mkdir()
    fails([tmp_path / "w0", tmp_path / "empty"], "not a token shard folder")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        TokenShards([tmp_path / "w0", tmp_path / "nothing"])
    manifest = read_shard_manifest(tmp_path / "w1", "r0001-manifest.json")
    manifest["complete"] = False  # a worker still running, or killed
    (tmp_path / "w1" / "r0001-manifest.json").write_text(json.dumps(manifest))
    fails([tmp_path / "w0", tmp_path / "w1"], "has not finished")
    export_tokens(codec, speech_dir, tmp_path / "whole")
    fails([tmp_path / "whole", tmp_path / "w0"], "merge the parts first")
    with pytest.raises(ValueError, match="no worker manifests"):
        merge_tokens([tmp_path / "whole"], tmp_path / "m2")
    # a worker rerun with another split into its old folder is refused, not mixed
    with pytest.raises(ValueError, match="part differ"):
        export_tokens(codec, speech_dir, tmp_path / "w0", shard=ShardSpec(0, 3), **part)


def test_workers_carry_the_single_workers_field_types(
    codec: Codec, speech_dir: Path, tmp_path: Path
) -> None:
    """Field types come from every input, not from one worker's run: worker 0 sees only whole
    numbers and no text here, yet writes the single worker's float and string columns."""
    rows = []
    for i, path in enumerate(sorted(speech_dir.glob("*.wav"))):
        info = sf.info(str(path))
        row = {"path": str(path), "duration": info.duration, "sample_rate": info.samplerate}
        row["score"] = 1 if i < 2 else 0.5
        if i >= 2:
            row["text"] = f"utterance {i}"
        rows.append(json.dumps(row))
    manifest = tmp_path / "corpus.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    single = export_tokens(codec, manifest, tmp_path / "single", batch_size=2)
    assert single["fields"]["score"] == "float64" and single["fields"]["text"] == "string"
    for i in range(2):
        part = export_tokens(
            codec, manifest, tmp_path / "parts", batch_size=2, shard=ShardSpec(i, 2)
        )
        assert part["fields"] == single["fields"]
    assert_same_export(TokenShards(tmp_path / "parts"), TokenShards(tmp_path / "single"))
