"""``bench/learning_curve.py`` end to end on the debug experiment (train, snapshots, evaluate)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lightning.conftest import REPO

pytestmark = pytest.mark.slow

sys.path.insert(0, str(REPO / "bench"))

import learning_curve  # noqa: E402

TINY = (
    "tiny: experiment=debug logger=none trainer.max_steps=10 trainer.val_every=10 "
    "trainer.checkpoint_every=10"
)


def test_parse_variant() -> None:
    assert learning_curve.parse_variant("quickstart") == ("quickstart", ["experiment=quickstart"])
    name, overrides = learning_curve.parse_variant("lr: experiment=debug 'optim.lr_g=1e-4'")
    assert (name, overrides) == ("lr", ["experiment=debug", "optim.lr_g=1e-4"])
    with pytest.raises(SystemExit, match="unknown variant"):
        learning_curve.parse_variant("nope")
    with pytest.raises(SystemExit, match="plain word"):
        learning_curve.parse_variant("a/b: experiment=debug")


def test_train_then_evaluate_every_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "lc"
    command = [sys.executable, "bench/learning_curve.py", "--variant", TINY, "-o", str(out)]
    command += ["--snapshot-every", "5", "--threads", "1", "--max-files", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    run = out / "tiny"
    assert "trainer.snapshot_every=5" in (run / "command.txt").read_text()
    rows = list(csv.DictReader((run / "curve.csv").open()))
    assert [int(r["step"]) for r in rows] == [5, 10]
    doc = json.loads((run / "curve.json").read_text())
    assert len(doc["setup"]["files"]) == 2
    for row in doc["rows"]:
        assert 0 <= row["stoi"] <= 1 and 1 <= row["pesq_wb"] <= 4.6 and row["mel_distance"] > 0
        usage = [row[f"usage_k{k}"] for k in range(4)]  # debug: GRVQ 2 groups x 2 levels
        assert row["usage_min"] == min(usage) and all(0 < u <= 1 for u in usage)
        assert 1 <= row["perplexity_min"] <= 32 and 0 < row["train_batch_usage_min"] <= 1
        assert row["kbps"] > 0 and row["threads"] == 1
    assert 0 < doc["rows"][0]["cpu_minutes"] < doc["rows"][1]["cpu_minutes"]
    assert 0 < doc["rows"][0]["wall_minutes"] < doc["rows"][1]["wall_minutes"]
    assert doc["targets"]["final_step"] == 10 and doc["targets"]["stoi_ok"] is False
    (opus,) = doc["opus"]
    assert opus["name"] == "opus 6 kbps" and 0.5 < opus["stoi"] <= 1
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "learning_curve.md").read_text()
    assert "| tiny | 10 |" in md and "| opus 6 kbps |" in md and "--variant" in md

    # evaluate-only mode on the same run folder: same steps, no retraining
    again_out = str(tmp_path / "again")
    learning_curve.main(["--runs", str(run), "-o", again_out, "--max-files", "2", "--opus"])
    again = json.loads((run / "curve.json").read_text())
    assert [r["step"] for r in again["rows"]] == [5, 10] and again["opus"] == []
    assert again["rows"][1]["stoi"] == pytest.approx(doc["rows"][1]["stoi"], abs=1e-6)
