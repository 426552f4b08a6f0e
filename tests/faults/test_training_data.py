"""Fault cases: training on folders with no usable audio (empty, unreadable, NaN, too short).

The files are screened once at data setup: with nothing usable training stops before step 0
with one ``error:`` line and the counts by reason; with some files skipped it warns in one
line and trains on the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec.data.manifest import AudioRecord
from codec.data.screen import screen_records
from codec.lightning.run import run_training
from tests.lightning.conftest import compose_config, run_train_py

SR = 16000
CROP_SECONDS = 16 * 16 / SR  # experiment=debug: 16 frames of the tiny model's hop (16)


def bad_folder(folder: Path) -> Path:
    """One file of each kind that cannot train: empty, not audio, NaN, shorter than a crop."""
    folder.mkdir(parents=True)
    sf.write(str(folder / "empty.wav"), np.zeros((0, 1), np.float32), SR)
    (folder / "garbage.wav").write_bytes(b"RIFF\x00\x01not really audio" * 10)
    nan = np.full((SR, 1), 0.1, np.float32)
    nan[100] = np.nan
    sf.write(str(folder / "nan.wav"), nan, SR, subtype="FLOAT")
    sf.write(str(folder / "short.wav"), np.full((100, 1), 0.1, np.float32), SR)
    return folder


def good_file(path: Path, seconds: float = 0.5) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None], SR)
    return path


def test_screen_counts_each_reason(tmp_path: Path) -> None:
    folder = bad_folder(tmp_path / "bad")
    good = good_file(folder / "good.wav")
    # as a manifest lists them: the header is read by the screening, not before
    records = [AudioRecord(p.resolve(), 1.0, SR) for p in sorted(folder.iterdir())]
    screened = screen_records(records, CROP_SECONDS)
    assert [r.path for r in screened.usable] == [good.resolve()]
    assert dict(screened.skipped) == {"empty": 1, "unreadable": 1, "nan_inf": 1, "too_short": 1}
    assert screened.summary(CROP_SECONDS) == (
        f"1 missing or unreadable, 1 empty, 1 NaN/inf samples, 1 shorter than {CROP_SECONDS:g} s"
    )


@pytest.mark.slow
def test_no_usable_training_audio_is_one_line_before_step_0(tmp_path: Path) -> None:
    train = bad_folder(tmp_path / "train")
    run = tmp_path / "run"
    proc = run_train_py(
        "experiment=debug", f"run_dir={run}", f"data.train={train}", "logger=none", timeout=300
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: data.train={train}: no usable audio in 4 file(s) "
        f"(1 missing or unreadable, 1 empty, 1 NaN/inf samples, 1 shorter than {CROP_SECONDS:g} s)"
    ]
    assert not list(run.glob("checkpoints/*.ckpt"))  # stopped before step 0


def test_no_usable_validation_audio_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    val = tmp_path / "val"
    val.mkdir()
    sf.write(str(val / "empty.wav"), np.zeros((0, 1), np.float32), SR)
    (val / "list.txt").write_text("")
    cfg = compose_config(
        "experiment=debug", f"run_dir={tmp_path / 'run'}", f"data.val={val}", "logger=none"
    )
    with pytest.raises(SystemExit) as stop:
        run_training(cfg)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1]
        == f"error: data.val={val}: no usable audio in 1 file(s) (1 empty)"
    )
    assert "Traceback" not in err


@pytest.mark.slow
def test_some_unusable_files_warn_in_one_line_and_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = bad_folder(tmp_path / "train")
    for i in range(4):
        good_file(train / f"good{i}.wav")
    run = tmp_path / "run"
    overrides = [f"run_dir={run}", f"data.train={train}", "logger=none", "trainer.max_steps=2"]
    run_training(compose_config("experiment=debug", *overrides))
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: data.")]
    assert warnings == [
        f"warning: data.train={train}: skipped 4 of 8 file(s) "
        f"(1 missing or unreadable, 1 empty, 1 NaN/inf samples, 1 shorter than {CROP_SECONDS:g} s)"
    ]
    assert (run / "checkpoints" / "last.ckpt").is_file()
