"""``-`` on the command line: ``codec encode - -o -`` and ``codec decode - -o -`` through real
pipes, and a one-line refusal (exit code 2) wherever several streams would meet one ``-``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec.tokens import Tokens

from .conftest import ROOT, cli, unstamped, write


def codec_cmd(cwd: Path, *args: object, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``python infer.py ARGS`` in ``cwd`` with ``data`` piped to stdin."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "infer.py"), *map(str, args)]
    return subprocess.run(cmd, input=data, capture_output=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_pipes(tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model = models["causal"]
    wav = write(tmp_path / "a.flac", 2400, format="FLAC")
    assert cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "-m", model)[0] == 0
    assert cli(capsys, "decode", tmp_path / "a.tok", "-o", tmp_path / "a.wav", "-m", model)[0] == 0

    enc = codec_cmd(tmp_path, "encode", "-", "-o", "-", "-m", model, "-q", data=wav.read_bytes())
    assert enc.returncode == 0 and not enc.stderr, enc.stderr
    # The same token file as from a file, less the source stamp (a stream has no name or mtime).
    assert enc.stdout == unstamped(tmp_path / "a.tok")
    Tokens.from_bytes(enc.stdout)

    dec = codec_cmd(tmp_path, "decode", "-", "-o", "-", "-m", model, "-q", data=enc.stdout)
    assert dec.returncode == 0 and not dec.stderr, dec.stderr
    audio, rate = sf.read(io.BytesIO(dec.stdout), dtype="int16")
    expected, _ = sf.read(str(tmp_path / "a.wav"), dtype="int16")
    assert rate == 16000 and np.array_equal(audio, expected)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "a.tok", "a.wav"]


def test_stdin_to_file(
    tmp_path: Path,
    models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``encode - -o OUT.tok``: stdin bytes -> a token file, never overwritten without --force."""
    wav = write(tmp_path / "a.wav", 2400)
    assert cli(capsys, "encode", wav, "-o", tmp_path / "a.tok", "-m", models["causal"])[0] == 0
    argv = ["encode", "-", "-o", tmp_path / "b.tok", "-m", models["causal"]]
    for force, expected in (([], 0), ([], 1), (["--force"], 0)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(wav.read_bytes())))
        code, _, err = cli(capsys, *argv, *force)
        assert code == expected, err
        assert (tmp_path / "b.tok").read_bytes() == unstamped(tmp_path / "a.tok")
    assert code == 0 and "error" not in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, _, err = cli(capsys, *argv, "--force")
    assert code == 2 and err.strip() == "error: -: nothing on stdin"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(wav.read_bytes()[:-100])))
    code, _, err = cli(capsys, "encode", "-", "-o", tmp_path / "x.tok", "-m", models["causal"])
    assert code == 1 and err.startswith("error: <stdin>: truncated"), err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not audio")))
    code, _, err = cli(capsys, "encode", "-", "-o", tmp_path / "x.tok", "-m", models["causal"])
    assert code == 1 and err.startswith("error: <stdin>: ") and not (tmp_path / "x.tok").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["encode", "{wav}", "{wav2}", "-o", "-"], "-o - writes one token stream"),
        (["encode", "-", "{wav}", "-o", "{tmp}/out"], "- (stdin) must be the only input"),
        (["encode", "-", "-o", "{tmp}/out"], "encoding stdin needs -o OUT.tok or -o -"),
        (["decode", "{tok}", "{tok2}", "-o", "-"], "-o - writes one audio stream"),
        (["decode", "-", "{tok}", "-o", "{tmp}/out"], "- (stdin) must be the only input"),
        (["roundtrip", "{wav}", "-o", "-"], "prints its summary on stdout"),
        (["roundtrip", "-", "-o", "{tmp}/o.wav"], "roundtrip reads a file"),
        (["stream", "{wav}", "-o", "-"], "prints its latency report on stdout"),
        (["stream", "{wav}", "--tokens", "-"], "prints its latency report on stdout"),
        (["export-tokens", "-", "-o", "{tmp}/shards"], "give files and a folder"),
        (["export-tokens", "{wav}", "-o", "-"], "give files and a folder"),
        (["eval", "-", "-o", "{tmp}/eval"], "eval reads files"),
        (["info", "-"], "info describes a file"),
    ],
)
def test_refused(
    args: list[str],
    needle: str,
    tmp_path: Path,
    models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several streams on one ``-``, or ``-`` where the command prints its report on stdout."""
    monkeypatch.chdir(tmp_path)
    fill = {"wav": write(tmp_path / "a.wav"), "wav2": write(tmp_path / "b.wav"), "tmp": tmp_path}
    for name in ("tok", "tok2"):
        fill[name] = tmp_path / f"{name}.tok"
        assert cli(capsys, "encode", fill["wav"], "-o", fill[name], "-m", models["causal"])[0] == 0
    before = sorted(tmp_path.iterdir())
    argv = [a.format(**fill) for a in args]
    if argv[0] != "info":
        argv += ["--model", str(models["causal"])]
    code, out, err = cli(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1 and not out
    assert sorted(tmp_path.iterdir()) == before  # no folder named "-", nothing written
