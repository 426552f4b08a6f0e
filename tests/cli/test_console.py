"""The shared progress bar (encode, eval, export-tokens: on a terminal only) and what
``--verbose`` adds (the model loaded, one line per file)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from codec.cli import main

from .conftest import cli, write


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def commands(tmp_path: Path, model: Path) -> dict[str, list[str]]:
    """One run of each long-running subcommand on two small files."""
    for i in range(2):
        write(tmp_path / "in" / f"u{i}.wav", 1600 + 800 * i, i)
    data, m = str(tmp_path / "in"), str(model)
    return {
        "encoding": ["encode", data, "-o", str(tmp_path / "tok"), "-m", m],
        "exporting": ["export-tokens", data, "-o", str(tmp_path / "shards"), "-m", m],
        "evaluating": [
            "eval",
            data,
            "-o",
            str(tmp_path / "ev"),
            "--model",
            m,
            "--baselines",
            "none",
        ]
        + ["--metrics", "si_sdr", "--stability-cycles", "0", "--no-plots"],
    }


@pytest.mark.parametrize("label", ["encoding", "exporting", "evaluating"])
def test_progress_bar_on_a_terminal_only(
    label: str,
    tmp_path: Path,
    models: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = commands(tmp_path, models["causal"])[label]
    code, _, err = cli(capsys, *argv)  # captured: not a terminal
    assert code == 0 and "% of" not in err and "\r" not in err, err
    for extra, shown in (([], True), (["--quiet"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main([*argv, "--force", *extra]) == 0
        monkeypatch.undo()
        bar = f"{label}" in terminal.getvalue() and "% of" in terminal.getvalue()
        assert bar == shown, terminal.getvalue()


def test_verbose(
    tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wav = write(tmp_path / "a.wav", 2400)
    base = ["encode", wav, "-o", tmp_path / "a.tok", "-m", models["causal"]]
    _, _, plain = cli(capsys, *base)
    code, _, err = cli(capsys, *base, "--force", "--verbose")
    assert code == 0 and "model 'tiny-test'" not in plain and str(wav) not in plain
    lines = err.splitlines()
    assert lines[0].startswith(f"model 'tiny-test' from {models['causal']}: 16000 Hz")
    assert "loaded in" in lines[0]
    assert f"{wav} -> {tmp_path / 'a.tok'} (0.15 s audio)" in lines
    wav_out = tmp_path / "a_hat.wav"
    code, _, err = cli(
        capsys, "decode", tmp_path / "a.tok", "-o", wav_out, "-m", models["causal"], "-v"
    )
    assert code == 0 and any(
        line.startswith(f"{tmp_path / 'a.tok'} -> {wav_out} (") for line in err.splitlines()
    )


def test_verbose_export_and_eval(
    tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = commands(tmp_path, models["causal"])
    code, _, err = cli(capsys, *argv["exporting"], "-v")
    assert code == 0 and "exported 2 of 2 files" in err.splitlines()
    assert err.startswith("model 'tiny-test' from ")
    code, _, err = cli(capsys, *argv["evaluating"], "-v")
    assert code == 0 and err.startswith("model 'tiny-test' from ")
    assert [line for line in err.splitlines() if line.startswith(("1: ", "2: "))] == [
        f"1: {tmp_path / 'in' / 'u0.wav'} (0.10 s)",
        f"2: {tmp_path / 'in' / 'u1.wav'} (0.15 s)",
    ]
