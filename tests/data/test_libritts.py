from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from codec.audio import load_audio, save_audio
from codec.data import read_manifest, scan_libritts
from codec.data.manifest import bundled_speech
from codec.lm.shards import TokenShards
from codec.model import Codec
from tests.cli.conftest import cli
from tests.conftest import load_script, tiny_config
from tests.lightning.conftest import run_train_py

PREPARE = Path(__file__).resolve().parents[2] / "recipes" / "libritts" / "prepare.py"


def _prepare_module() -> ModuleType:
    return load_script(PREPARE, "libritts_prepare")


def _fake_libritts(root: Path) -> None:
    """LibriTTS/<subset>/<speaker>/<chapter>/<spk>_<chap>_<para>_<sent>.wav with transcripts."""
    layout = {"train-clean-100": {"19": "198", "26": "495"}, "dev-clean": {"84": "121123"}}
    for subset, speakers in layout.items():
        for speaker, chapter in speakers.items():
            folder = root / "LibriTTS" / subset / speaker / chapter
            for n in range(2):
                stem = f"{speaker}_{chapter}_000001_00000{n}"
                save_audio(folder / f"{stem}.wav", torch.zeros(1, 240 * (n + 1)), 24_000)
                (folder / f"{stem}.normalized.txt").write_text(f"text {stem}\n")
    (root / "LibriTTS" / "train-clean-100" / "19" / "198" / "19_198_bad.wav").write_bytes(b"xx")


def test_scan_fake_tree(tmp_path: Path) -> None:
    _fake_libritts(tmp_path)
    records = scan_libritts(tmp_path, include_text=True)
    assert len(records) == 6
    assert [r.split for r in records] == ["train"] * 4 + ["val"] * 2
    assert {r.speaker for r in records} == {"19", "26", "84"}
    first = records[0]
    assert first.sample_rate == 24_000 and first.duration == pytest.approx(0.01)
    assert first.meta["subset"] == "train-clean-100" and first.meta["chapter"] == "198"
    assert first.meta["text"] == "text 19_198_000001_000000"
    assert len(scan_libritts(tmp_path / "LibriTTS", subsets=["dev-clean"])) == 2
    with pytest.raises(FileNotFoundError, match="test-clean"):
        scan_libritts(tmp_path, subsets=["test-clean"])
    with pytest.raises(FileNotFoundError):
        scan_libritts(tmp_path / "LibriTTS" / "dev-clean")


def test_prepare_cli_writes_manifest(tmp_path: Path) -> None:
    _fake_libritts(tmp_path)
    out = tmp_path / "libritts.jsonl"
    _prepare_module().main(
        ["--root", str(tmp_path), "--out", str(out), "--subsets", "train-clean-100"]
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and rows[0]["path"].startswith("LibriTTS/train-clean-100/19/198/")
    assert rows[0]["id"] == "19_198_000001_000000" and rows[0]["speaker"] == "19"
    assert rows[0]["text"] == "text 19_198_000001_000000"  # transcripts by default
    assert {r.split for r in read_manifest(out)} == {"train"}
    assert all(r.path.is_file() for r in read_manifest(out))


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    honour_range = True

    def do_GET(self) -> None:  # noqa: N802
        data, start = self.payload, 0
        header = self.headers.get("Range")
        if header and self.honour_range:
            start = int(header.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_RangeHandler]]]:
    handler = type("Handler", (_RangeHandler,), {"payload": bytes(range(256)) * 400})
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("honour_range", [True, False])
def test_download_resumes_and_verifies(
    tmp_path: Path, server: tuple[str, type[_RangeHandler]], honour_range: bool
) -> None:
    url, handler = server
    handler.honour_range = honour_range
    prepare = _prepare_module()
    dest = tmp_path / "x.tar.gz"
    dest.with_name("x.tar.gz.part").write_bytes(handler.payload[:1000])
    assert prepare.download(f"{url}/x.tar.gz", dest).read_bytes() == handler.payload
    assert not dest.with_name("x.tar.gz.part").exists()
    prepare.verify(dest, hashlib.sha256(handler.payload).hexdigest())
    with pytest.raises(OSError, match="sha256"):
        prepare.verify(dest, "0" * 64)
    assert dest.with_name("x.tar.gz.bad").exists() and not dest.exists()


def test_prepare_then_export_tokens_gives_text_code_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recipe's manifest goes straight into ``codec export-tokens``: each Parquet row pairs
    an utterance's transcript (and id, speaker) with its codes."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed")
    _fake_libritts(tmp_path / "data")
    manifest = tmp_path / "data" / "libritts.jsonl"
    _prepare_module().main(["--root", str(tmp_path / "data"), "--out", str(manifest)])
    torch.manual_seed(0)
    model = Codec(tiny_config()).eval().save_pretrained(tmp_path / "model")
    out = tmp_path / "tokens"
    args = ["export-tokens", manifest, "-o", out, "-m", model, "--device", "cpu", "--parquet"]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    rows = [r for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert [r["id"] for r in rows] == [r.meta["id"] for r in read_manifest(manifest)]
    assert all(r["text"] == f"text {r['id']}" for r in rows) and len(rows) == 6
    assert {r["speaker"] for r in rows} == {"19", "26", "84"}
    assert rows[0]["source"] == "LibriTTS/train-clean-100/19/198/19_198_000001_000000.wav"
    shards = TokenShards(out)
    for i, row in enumerate(rows):
        assert np.array_equal(np.array(row["codes"], dtype=np.int64), shards.codes(i))
        assert len(row["codes"]) == 4 and len(row["codes"][0]) == row["num_frames"] > 0


@pytest.mark.slow
def test_prepare_train_export_tokens_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recipe's three steps on a fake LibriTTS tree of real speech: prepare (manifest with
    transcripts), train.py (the debug experiment on that manifest), export-tokens with the
    trained model: (text, codes) pairs."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed")
    for i, record in enumerate(bundled_speech("train")[:6]):
        subset, speaker = ("train-clean-100" if i < 4 else "dev-clean"), str(10 + i % 2)
        stem = f"{speaker}_100_000001_00000{i}"
        folder = tmp_path / "data" / "LibriTTS" / subset / speaker / "100"
        save_audio(folder / f"{stem}.wav", load_audio(record.path, 24_000).wav, 24_000)
        (folder / f"{stem}.normalized.txt").write_text(f"Sentence number {i}.\n")
    manifest = tmp_path / "data" / "libritts.jsonl"
    _prepare_module().main(["--root", str(tmp_path / "data"), "--out", str(manifest)])
    run = tmp_path / "run"
    data = [f"data.{split}={manifest}" for split in ("train", "val")]
    proc = run_train_py(
        "experiment=debug",
        "data=libritts",
        *data,
        "data.num_workers=0",
        "data.batch_size=2",
        "data.val_items=2",
        "data.frames_per_crop=16",
        f"run_dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "tokens"
    args = ["export-tokens", manifest, "-o", out, "-m", run / "export", "--parquet"]
    code, _, err = cli(capsys, *args, "--device", "cpu")
    assert code == 0, err
    rows = [r for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    pairs = sorted((r["id"][-1], r["text"]) for r in rows)  # manifest order: by subset, path
    assert pairs == [(str(i), f"Sentence number {i}.") for i in range(6)]
    assert all(len(r["codes"]) == 4 and len(r["codes"][0]) == r["num_frames"] > 50 for r in rows)
