"""Bad audio given to ``codec encode`` / ``roundtrip``: each bad file is one ``error:`` line
naming it, the good files of the same run are still encoded, the exit code says some failed
(1), and nothing is written for a bad file or over an existing output without ``--force``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.cli.conftest import cli, write
from tests.faults.helpers import error_lines, one_error, snapshot, unchanged

SR = 16000


def empty(path: Path) -> None:
    sf.write(str(path), np.zeros(0, dtype=np.float32), SR)


def one_sample(path: Path) -> None:
    sf.write(str(path), np.zeros(1, dtype=np.float32), SR)


def with_nan(path: Path) -> None:
    x = np.full(1600, 0.1, dtype=np.float32)
    x[5] = np.nan
    sf.write(str(path), x, SR, subtype="FLOAT")


def garbage(path: Path) -> None:
    path.write_bytes(b"not audio at all" * 10)


def truncated(path: Path) -> None:
    write(path, 4000)
    path.write_bytes(path.read_bytes()[:30])  # the header cut short


BAD: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (empty, "empty"),
    "one-sample": (one_sample, "too short"),
    "nan": (with_nan, "NaN"),
    "not-audio": (garbage, "unreadable"),
    "truncated": (truncated, "unreadable"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_file_is_one_line_and_writes_nothing(
    case: str, tmp_path: Path, twins: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    make, words = BAD[case]
    make(tmp_path / "in.wav")
    before = snapshot(tmp_path)
    code, _, err = cli(
        capsys, "encode", tmp_path / "in.wav", "-o", tmp_path / "in.tok", "-m", twins["a"]
    )
    assert code == 1
    one_error(err, "in.wav", words)
    unchanged(tmp_path, before)
    code, _, err = cli(
        capsys, "roundtrip", tmp_path / "in.wav", "-o", tmp_path / "x.wav", "-m", twins["a"]
    )
    assert code == 1
    one_error(err, "in.wav")
    unchanged(tmp_path, before)


def test_bad_files_do_not_stop_the_good_ones(
    tmp_path: Path, twins: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name, (make, _) in BAD.items():
        make(src / f"{name}.wav")
    write(src / "good.wav", 1600)
    code, _, err = cli(capsys, "encode", src, "-o", tmp_path / "out", "-m", twins["a"])
    assert code == 1
    assert len(error_lines(err)) == len(BAD), err
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["good.tok"]


def test_existing_output_is_kept_without_force(
    tmp_path: Path, twins: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a.wav", 1600)
    (tmp_path / "a.tok").write_text("precious")
    before = snapshot(tmp_path)
    code, _, err = cli(
        capsys, "encode", tmp_path / "a.wav", "-o", tmp_path / "a.tok", "-m", twins["a"]
    )
    assert code == 1
    one_error(err, "a.tok", "--force")
    unchanged(tmp_path, before)
    code, _, err = cli(
        capsys, "encode", tmp_path / "a.wav", "-o", tmp_path / "a.tok", "-m", twins["a"], "--force"
    )
    assert code == 0 and (tmp_path / "a.tok").read_bytes()[:4] == b"CDTK"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(
    tmp_path: Path, twins: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a.wav", 1600)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = cli(
            capsys, "encode", tmp_path / "a.wav", "-o", locked / "sub", "-m", twins["a"]
        )
    finally:
        locked.chmod(0o755)
    assert code in (1, 2)
    one_error(err, "locked")
    assert not any(locked.iterdir())
