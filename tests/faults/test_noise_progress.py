"""No noise on stderr (torch's TF32 warning from the LSTM), and progress in audio seconds that
moves within a long file: encode, decode, stream and roundtrip, on a terminal only, never with
``--quiet``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from codec.cli import main
from codec.cli.console import Console
from codec.model import Codec
from tests.cli.conftest import cli, write
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return Codec(tiny_config()).eval().save_pretrained(tmp_path_factory.mktemp("model") / "m")


@pytest.mark.slow
def test_no_tf32_warning(tmp_path: Path, model: Path) -> None:
    """Short streaming chunks take the LSTM path that switches oneDNN off: torch must not
    print its two-line TF32 warning (a fresh process: torch warns once per process)."""
    wav = write(tmp_path / "a.wav", n=1600)
    argv = ["stream", str(wav), "--chunk-ms", "1", "-m", str(model)]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; from codec.cli import main; sys.exit(main({argv!r}))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Record every ``Console.start`` (label, total) and ``advance`` ("+", seconds)."""
    calls: list[tuple[str, float]] = []
    start, advance = Console.start, Console.advance

    def on_start(self: Console, total: float, label: str = "encoding", unit: str = "") -> None:
        calls.append((label, total))
        start(self, total, label, unit or "s audio")

    def on_advance(self: Console, amount: float) -> None:
        calls.append(("+", amount))
        advance(self, amount)

    monkeypatch.setattr(Console, "start", on_start)
    monkeypatch.setattr(Console, "advance", on_advance)
    return calls


def on_terminal(monkeypatch: pytest.MonkeyPatch, *argv: object) -> tuple[int, str]:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        code = main([str(a) for a in argv])
    finally:
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    return code, terminal.getvalue()


@pytest.mark.slow
def test_progress_moves_within_one_long_file(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    seconds = 21.0  # three 10 s blocks when streamed
    wav = write(tmp_path / "long.wav", n=int(seconds * 16000))
    tok, out = tmp_path / "long.tok", tmp_path / "long.wav.out.wav"
    runs = {
        "encoding": ["encode", wav, "-o", tok, "--stream-above", 1],
        "decoding": ["decode", tok, "-o", out, "--stream-above", 1],
        "streaming": ["stream", wav],
    }
    for label, argv in runs.items():
        calls = spy(monkeypatch)
        code, err = on_terminal(monkeypatch, *argv, "-m", model, "--force")
        monkeypatch.undo()
        assert code == 0, err
        assert calls[0] == (label, pytest.approx(seconds, abs=0.01)), calls[:3]
        steps = [amount for kind, amount in calls if kind == "+"]
        assert len(steps) >= 3 and max(steps) < seconds / 2, (label, steps[:5])
        assert sum(steps) == pytest.approx(seconds, abs=0.01)
        assert f"{label}" in err and "% of" in err


@pytest.mark.parametrize("command", ["decode", "stream", "roundtrip"])
def test_progress_only_on_a_terminal_never_quiet(
    command: str, tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    wav = write(tmp_path / "a.wav", n=16000)
    tok = tmp_path / "a.tok"
    assert cli(capsys, "encode", wav, "-o", tok, "-m", model, "-q")[0] == 0
    source = tok if command == "decode" else wav
    argv = [command, source, "-o", tmp_path / "out.wav", "-m", model, "--force"]
    code, _, err = cli(capsys, *argv)  # captured: not a terminal
    assert code == 0 and "% of" not in err and "\r" not in err
    code, shown = on_terminal(monkeypatch, *argv)
    assert code == 0 and "% of 1 s audio" in shown, shown
    code, quiet = on_terminal(monkeypatch, *argv, "--quiet")
    assert code == 0 and "% of" not in quiet
