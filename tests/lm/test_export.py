"""Corpus export: reload equality, resume, Parquet (the command: tests/cli/test_export_tokens.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.audio import load_audio
from codec.lm.export import export_tokens, resolve_inputs
from codec.lm.shards import MANIFEST_NAME, TokenShards, read_shard_manifest
from codec.model import Codec

from .conftest import tiny_codec


def encode_file(codec: Codec, path: Path, num_codebooks: int | None = None) -> np.ndarray:
    audio = load_audio(path, codec.sample_rate)
    return codec.encode(audio.wav, audio.sample_rate, num_codebooks=num_codebooks).codes[0].numpy()


def test_export_reload_equals_encode(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    manifest = export_tokens(codec, speech_dir, out, batch_size=3, shard_size=700)
    assert manifest["complete"]
    assert len(manifest["shards"]) >= 2  # small shards: the utterances spread over several
    shards = TokenShards(out)
    assert len(shards) == 5
    for i, item in enumerate(shards.items):
        stored = shards.codes(i)
        assert isinstance(stored, np.memmap) or isinstance(stored.base, np.memmap)
        assert stored.dtype == np.uint16
        np.testing.assert_array_equal(stored, encode_file(codec, shards.audio_path(i)))
        assert item.num_samples == load_audio(shards.audio_path(i)).wav.shape[-1]
        assert item.source == f"utt{i}.wav"  # relative to the input folder
    on_disk = read_shard_manifest(out)
    assert on_disk["groups"] == 2 and on_disk["levels"] == 2
    assert on_disk["codebook_sizes"] == [300] * 4
    assert on_disk["frame_rate"] == codec.frame_rate
    assert on_disk["model_id"] == codec.config.model_id
    index = np.load(out / manifest["shards"][0]["index"], mmap_mode="r")
    assert index.dtype == np.int64 and index.shape[1] == 2


def test_num_codebooks_and_workers(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    export_tokens(codec, [speech_dir], out, num_codebooks=2, num_workers=2, batch_size=2)
    shards = TokenShards(out)
    assert shards.num_codebooks == 2 and shards.manifest["levels"] == 1
    for i in range(len(shards)):
        np.testing.assert_array_equal(shards.codes(i), encode_file(codec, shards.audio_path(i), 2))
    tokens = shards.tokens(0)
    audio = codec.decode(tokens)
    assert audio.shape[-1] == shards.items[0].num_samples


def test_small_codebooks_use_uint8(speech_dir: Path, tmp_path: Path) -> None:
    export_tokens(tiny_codec(codebook_size=256), speech_dir, tmp_path / "s")
    assert np.load(tmp_path / "s" / "shard-00000.codes.npy", mmap_mode="r").dtype == np.uint8


def test_resume_redoes_partial_shard_and_skips_done(
    codec: Codec, speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "shards"
    full = export_tokens(codec, speech_dir, out, shard_size=700, batch_size=1)
    reference = {s["name"]: np.load(out / s["codes"]) for s in full["shards"]}
    # simulate a crash after the first shard: the manifest lists one shard, later shard
    # files are left half-written and a temp file lies around
    partial = dict(full, shards=full["shards"][:1], complete=False)
    (out / MANIFEST_NAME).write_text(json.dumps(partial))
    (out / full["shards"][1]["codes"]).write_bytes(b"garbage")
    (out / ".shard-00001.codes.npy.abc.tmp.npy").write_bytes(b"junk")
    first_sources = {it["source"] for it in full["shards"][0]["items"]}

    calls: list[int] = []
    original = Codec.encode

    def counting(self: Codec, wav: torch.Tensor, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(wav.shape[0])
        return original(self, wav, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Codec, "encode", counting)
    again = export_tokens(codec, speech_dir, out, shard_size=700, batch_size=1)
    assert sum(calls) == 5 - len(first_sources)
    assert [s["name"] for s in again["shards"]] == list(reference)
    for s in again["shards"]:
        np.testing.assert_array_equal(np.load(out / s["codes"]), reference[s["name"]])
    assert not list(out.glob(".*tmp*"))
    assert again["complete"] and again["num_items"] == 5

    calls.clear()
    export_tokens(codec, speech_dir, out, shard_size=700)  # all done: nothing re-encoded
    assert calls == []


def test_other_model_refused_unless_forced(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    export_tokens(codec, speech_dir, out)
    other = tiny_codec(groups=1)
    with pytest.raises(ValueError, match="another model"):
        export_tokens(other, speech_dir, out)
    manifest = export_tokens(other, speech_dir, out, force=True)
    assert manifest["groups"] == 1 and TokenShards(out).num_codebooks == 2


def test_too_short_and_unreadable_files_are_skipped(
    codec: Codec, speech_dir: Path, tmp_path: Path
) -> None:
    import soundfile as sf

    extra = tmp_path / "extra"
    extra.mkdir()
    sf.write(extra / "short.wav", np.zeros(5, dtype=np.float32), 16000)
    good = sorted(speech_dir.glob("*.wav"))[0]
    with pytest.warns(UserWarning, match="shorter than one frame"):
        manifest = export_tokens(codec, [good, extra / "short.wav"], tmp_path / "s")
    assert manifest["num_items"] == 1
    skipped = manifest["skipped"][0]["source"]
    assert skipped.endswith("/extra/short.wav") and not Path(skipped).is_absolute()


def test_parquet_output(codec: Codec, speech_dir: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed")
    out = tmp_path / "s"
    manifest = export_tokens(codec, speech_dir, out, parquet=True)
    table = pq.read_table(out / manifest["shards"][0]["parquet"]).to_pylist()
    shards = TokenShards(out)
    for i, row in enumerate(table):
        assert row["source"] == shards.items[i].source
        np.testing.assert_array_equal(np.array(row["codes"]), shards.codes(i))


def test_resolve_inputs_manifest_list_and_dedupe(speech_dir: Path, tmp_path: Path) -> None:
    files = sorted(speech_dir.glob("*.wav"))
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(f) for f in files[:2]) + "\n")
    records = resolve_inputs([listing, files[0], speech_dir])
    assert [r.path.name for r in records] == [f.name for f in files]  # order kept, no duplicates
    with pytest.raises(FileNotFoundError):
        resolve_inputs(tmp_path / "missing")


def test_parquet_skipped_gracefully_without_pyarrow(
    codec: Codec, speech_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codec.lm.export as export_module

    monkeypatch.setattr(export_module, "has_pyarrow", lambda: False)
    with pytest.warns(UserWarning, match="pyarrow"):
        manifest = export_tokens(codec, speech_dir, tmp_path / "s", parquet=True)
    assert manifest["complete"] and "parquet" not in manifest["shards"][0]
    assert not list((tmp_path / "s").glob("*.parquet"))
