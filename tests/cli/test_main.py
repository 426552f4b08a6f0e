"""``codec`` itself: the parser, usage errors (exit code 2), ``infer.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codec.cli import build_parser, info, main

from .conftest import ROOT, cli, write

COMMANDS = (
    "encode",
    "decode",
    "roundtrip",
    "stream",
    "info",
    "convert",
    "eval",
    "export-tokens",
    "merge-tokens",
)


def test_help_lists_commands(capsys) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name in COMMANDS:  # every subcommand is an explicit import: none may silently vanish
        assert name in listing
        assert main([name, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: codec {name}")
    assert build_parser().parse_args(["info", "x"]).func is info.run


def test_usage_errors(tmp_path: Path, models: dict[str, Path], capsys) -> None:
    wav = write(tmp_path / "a.wav")
    assert main([]) == 2
    assert main(["encode", str(wav)]) == 2  # no -o / --model
    capsys.readouterr()
    for args, needle in [
        (["encode", wav, "-o", tmp_path / "o", "-m", tmp_path / "nomodel"], "no such model"),
        (["encode", wav, "-o", tmp_path / "o", "-m", models["causal"], "-k", "3"], "multiple"),
        (["encode", wav, wav, "-o", tmp_path / "o.tok", "-m", models["causal"]], "output folder"),
        (
            [
                "encode",
                tmp_path / "empty_dir_missing",
                "-o",
                tmp_path / "o",
                "-m",
                "encodec_24khz:/x",
            ],
            "/x",
        ),
    ]:
        code, _, err = cli(capsys, *args)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_infer_py_subprocess(tmp_path: Path, models: dict[str, Path]) -> None:
    write(tmp_path / "in" / "ok.wav", 800)
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF....garbage")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "infer.py"), "encode", str(tmp_path / "in"), "-o"]
    cmd += [str(tmp_path / "out"), "--model", str(models["causal"])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {tmp_path / 'in' / 'broken.wav'}: ")
    assert (tmp_path / "out" / "ok.tok").exists()
