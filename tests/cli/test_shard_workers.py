"""Sharded ``codec export-tokens`` / ``codec encode``: two worker processes (the real command,
placed by torchrun's variables) give the single worker's result; ``codec merge-tokens``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec.lm.shards import TokenShards

from .conftest import ROOT, cli, write


def corpus(folder: Path) -> Path:
    for i, n in enumerate([1600, 4000, 2400, 800, 3200, 5600, 1200]):
        write(folder / f"spk{i % 2}" / f"utt{i}.wav", n, i)
    return folder


def worker(rank: int, world: int, *args: object) -> subprocess.Popen[str]:
    """``python infer.py ARGS`` as torchrun would start worker ``rank`` of ``world``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    cmd = [sys.executable, str(ROOT / "infer.py"), *map(str, args)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_worker_processes_equal_one(
    tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = corpus(tmp_path / "in")
    options = ["-m", models["causal"], "--batch-size", 2, "--shard-frames", 300, "-q"]
    code, _, err = cli(capsys, "export-tokens", inputs, "-o", tmp_path / "single", *options)
    assert code == 0, err
    single = TokenShards(tmp_path / "single")

    out = tmp_path / "parts"  # both workers write into one folder
    procs = [worker(rank, 2, "export-tokens", inputs, "-o", out, *options) for rank in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err
    names = {p.name for p in out.iterdir()}
    assert {"r0000-manifest.json", "r0001-manifest.json"} <= names
    assert all(n.startswith(("r0000-", "r0001-")) for n in names)

    code, _, err = cli(capsys, "merge-tokens", out, "-o", tmp_path / "merged")
    assert code == 0, err
    merged = TokenShards(tmp_path / "merged")
    assert merged.manifest["num_items"] == single.manifest["num_items"] == 7
    items = [it for s in merged.manifest["shards"] for it in s["items"]]
    assert items == [it for s in single.manifest["shards"] for it in s["items"]]
    header = {k: v for k, v in single.manifest.items() if k != "shards"}
    assert {k: v for k, v in merged.manifest.items() if k != "shards"} == header
    for i in range(len(single)):
        np.testing.assert_array_equal(merged.codes(i), single.codes(i))
    code, _, err = cli(capsys, "merge-tokens", out, "-o", tmp_path / "merged")
    assert code == 1 and err.startswith("error:") and "--force" in err and err.count("\n") == 1


def test_encode_workers_split_the_files(
    tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = corpus(tmp_path / "in")
    common = ["-m", models["causal"], "--batch-size", 2, "-q"]
    # a temp file of a writer that is not running here: stale for one worker, but with several
    # it may be a live worker's on another machine sharing the folder, so it is left alone
    for folder in ("single", "w0"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / ".utt9.tok.999999999.abcdefgh.tmp.tok").write_bytes(b"")
    assert cli(capsys, "encode", inputs, "-o", tmp_path / "single", *common)[0] == 0
    assert not list((tmp_path / "single").glob(".*"))
    for i in range(2):
        shard = ["--num-shards", 2, "--shard-index", i]
        assert cli(capsys, "encode", inputs, "-o", tmp_path / f"w{i}", *common, *shard)[0] == 0
    single = sorted(
        p.relative_to(tmp_path / "single") for p in (tmp_path / "single").rglob("[!.]*.tok")
    )
    parts = [
        sorted(p.relative_to(tmp_path / w) for p in (tmp_path / w).rglob("[!.]*.tok"))
        for w in ("w0", "w1")
    ]
    assert parts[0] + parts[1] == single and len(parts[0]) == 3  # contiguous runs, in order
    assert (tmp_path / "w0" / ".utt9.tok.999999999.abcdefgh.tmp.tok").exists()
    for w, names in zip(("w0", "w1"), parts):
        for name in names:
            assert (tmp_path / w / name).read_bytes() == (tmp_path / "single" / name).read_bytes()


def test_inconsistent_worker_settings_are_usage_errors(
    tmp_path: Path,
    models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wav = write(tmp_path / "in" / "a.wav")
    for command in ("encode", "export-tokens"):
        base = [command, wav.parent, "-o", tmp_path / command, "-m", models["causal"]]
        code, _, err = cli(capsys, *base, "--num-shards", 2)
        assert code == 2 and "go together" in err and err.count("\n") == 1, err
        code, _, err = cli(capsys, *base, "--num-shards", 2, "--shard-index", 2)
        assert code == 2 and "0..1" in err and err.count("\n") == 1, err
        with monkeypatch.context() as env:
            env.setenv("RANK", "1")
            env.delenv("WORLD_SIZE", raising=False)
            code, _, err = cli(capsys, *base)
            assert code == 2 and "WORLD_SIZE" in err and err.count("\n") == 1, err
    code, _, err = cli(capsys, "encode", "-", "-o", "-", "--num-shards", 2, "--shard-index", 0)
    assert code == 2 and "cannot be split" in err
