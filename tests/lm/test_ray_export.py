"""``codec export-tokens --engine ray``: Ray Data actors on a local 2-CPU Ray instance write the
same shards as the local export; ``import codec`` never imports ray."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from codec.cli import main
from codec.lm.ray_export import in_batch_order
from codec.lm.shards import read_shard_manifest

from .conftest import tiny_codec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a fresh interpreter imports torch
def test_codec_and_its_command_line_do_not_import_ray() -> None:
    script = (
        "import sys, codec, codec.cli, codec.lm, codec.lm.ray_export; "
        "print('ray' in sys.modules, 'ray.data' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_engine_ray_without_ray_is_one_line(
    tmp_path: Path, speech_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import codec.cli.export_tokens as command

    monkeypatch.setattr(command, "has_ray", lambda: False)
    code = main(["export-tokens", str(speech_dir), "-o", str(tmp_path / "s"), "--engine", "ray"])
    err = capsys.readouterr().err
    assert (
        code == 2
        and err == "error: --engine ray needs Ray Data: pip install 'speech-token-codec[ray]'\n"
    )
    code = main(["export-tokens", str(speech_dir), "-o", str(tmp_path / "s"), "--actors", "2"])
    assert code == 2 and "--engine ray" in capsys.readouterr().err


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_actors_write_the_local_export(
    local_ray: None, tmp_path: Path, speech_dir: Path, capsys
) -> None:
    model = tmp_path / "model"
    tiny_codec().save_pretrained(model)
    common = [str(speech_dir), "-m", str(model), "-b", "2", "--shard-frames", "300", "-q"]
    assert main(["export-tokens", "-o", str(tmp_path / "local"), *common]) == 0
    assert main(["export-tokens", "-o", str(tmp_path / "ray"), *common, "--engine", "ray"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    local, ray = read_shard_manifest(tmp_path / "local"), read_shard_manifest(tmp_path / "ray")
    assert local == ray and len(local["shards"]) > 1
    for shard in local["shards"]:
        for key in ("codes", "index"):
            local_bytes = (tmp_path / "local" / shard[key]).read_bytes()
            assert (tmp_path / "ray" / shard[key]).read_bytes() == local_bytes


def test_results_come_back_in_batch_order_whatever_order_ray_returns() -> None:
    """Actors finish in any order and Ray regroups rows freely: batches still go out in order,
    each complete, its items sorted, codes back to ``[K, T]``."""
    codes = [np.arange(6, dtype=np.uint16).reshape(2, 3) + 10 * i for i in range(5)]
    rows = [  # batches of 2, 2, 1 items; item 3 failed
        (i // 2, i, 100 + i, "bad file" if i == 3 else "", b"" if i == 3 else codes[i].tobytes())
        for i in range(5)
    ]
    chunks = [rows[4:5], rows[3:4] + rows[1:2], rows[0:1], rows[2:3]]  # out of order
    columns = ("batch", "i", "samples", "reason", "codes")
    results = [
        {c: np.array([r[k] for r in chunk], dtype=object) for k, c in enumerate(columns)}
        for chunk in chunks
    ]
    batches = list(in_batch_order(iter(results), [2, 2, 1], (2, -1), np.dtype(np.uint16)))
    assert [[i for i, _, _ in b] for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[1][1] == (3, "bad file", 103)
    for b in batches:
        for i, item, samples in b:
            if i != 3:
                np.testing.assert_array_equal(item, codes[i])
                assert samples == 100 + i
    with pytest.raises(RuntimeError, match="2 of 3 batches"):
        list(in_batch_order(iter(results[1:]), [2, 2, 1], (2, -1), np.dtype(np.uint16)))
