"""What every subcommand shares: one exit-code convention (bad ``--model`` and bad numbers 2,
missing inputs 1, Ctrl-C 130), ``--quiet``/``--verbose``, and a help text for every option."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from codec.cli import build_parser, encode, main
from codec.cli.options import ExitCode

from .conftest import cli, write

MODEL = "{model}"
"""Placeholder for the model folder in the argument lists below."""

BAD_MODEL = {
    "encode": ["{wav}", "-o", "{tmp}/out"],
    "decode": ["{tok}", "-o", "{tmp}/out"],
    "roundtrip": ["{wav}", "-o", "{tmp}/out.wav"],
    "stream": ["{wav}", "-o", "{tmp}/out.wav"],
    "eval": ["{wav}", "-o", "{tmp}/eval", "--baselines", "none"],
    "export-tokens": ["{wav}", "-o", "{tmp}/shards"],
    "export-hf": ["-o", "{tmp}/hf"],
    "export-onnx": ["-o", "{tmp}/onnx"],
}
BAD_NUMBER = {
    "encode": ["{wav}", "-o", "{tmp}/out", "-m", MODEL, "--batch-size", "0"],
    "decode": ["{tok}", "-o", "{tmp}/out", "-m", MODEL, "--stream-above", "-1"],
    "roundtrip": ["{wav}", "-o", "{tmp}/out.wav", "-m", MODEL, "-k", "0"],
    "stream": ["{wav}", "-o", "{tmp}/out.wav", "-m", MODEL, "--chunk-ms", "nan"],
    "eval": ["{wav}", "-o", "{tmp}/eval", "--model", MODEL, "--max-files", "0"],
    "export-tokens": ["{wav}", "-o", "{tmp}/shards", "-m", MODEL, "--workers", "-1"],
}
MISSING_INPUT = {
    "encode": ["{tmp}/missing.wav", "-o", "{tmp}/out", "-m", MODEL],
    "decode": ["{tmp}/missing.tok", "-o", "{tmp}/out", "-m", MODEL],
    "roundtrip": ["{tmp}/missing.wav", "-o", "{tmp}/out.wav", "-m", MODEL],
    "stream": ["{tmp}/missing.wav", "-o", "{tmp}/out.wav", "-m", MODEL],
    "info": ["{tmp}/missing.tok"],
    "convert": ["{tmp}/missing.th", "{tmp}/converted"],
    "eval": ["{tmp}/missing.wav", "-o", "{tmp}/eval", "--model", MODEL, "--baselines", "none"],
    "export-tokens": ["{tmp}/missing.wav", "-o", "{tmp}/shards", "-m", MODEL],
    "merge-tokens": ["{tmp}/missing", "-o", "{tmp}/merged"],
}


def run_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, command: str, args: list[str]
) -> tuple[int, str]:
    """Run ``codec COMMAND ARGS`` (placeholders filled); exit code and stderr."""
    wav = write(tmp_path / "a.wav", 1600)
    tok = tmp_path / "a.tok"
    assert main(["encode", str(wav), "-o", str(tok), "-m", str(model), "-q"]) == 0
    fill = {"wav": wav, "tok": tok, "tmp": tmp_path, "model": model}
    code, _, err = cli(capsys, command, *[a.format(**fill) for a in args])
    return code, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


@pytest.mark.parametrize("command", list(BAD_MODEL))
def test_bad_model_is_a_usage_error(
    command: str, tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    flag = "--model" if command == "eval" else "-m"
    args = [*BAD_MODEL[command], flag, "{tmp}/no-such-model"]
    code, err = run_case(capsys, tmp_path, models["causal"], command, args)
    assert code == ExitCode.USAGE == 2, err
    assert len(error_lines(err)) == 1 and "no-such-model" in error_lines(err)[0], err


@pytest.mark.parametrize("command", list(BAD_NUMBER))
def test_bad_number_is_a_usage_error(
    command: str, tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_case(capsys, tmp_path, models["causal"], command, BAD_NUMBER[command])
    assert code == ExitCode.USAGE == 2, err
    assert len(error_lines(err)) == 1 and "must be" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "shards").exists()


@pytest.mark.parametrize("command", list(MISSING_INPUT))
def test_missing_input_fails(
    command: str, tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_case(capsys, tmp_path, models["causal"], command, MISSING_INPUT[command])
    assert code == ExitCode.FAILED == 1, err
    assert error_lines(err) and "missing" in error_lines(err)[0], err


def test_every_subcommand_is_covered() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # export-hf / export-onnx read no input but the model (covered by BAD_MODEL) and take no
    # number; merge-tokens takes neither a model nor a number.
    exports = {"export-hf", "export-onnx"}
    assert set(MISSING_INPUT) == commands - exports
    assert set(BAD_MODEL) == commands - {"info", "convert", "merge-tokens"}
    assert set(BAD_NUMBER) == commands - {"info", "convert", "merge-tokens"} - exports


def test_interrupt_exits_130(
    tmp_path: Path,
    models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(encode.FileEncoder, "run", interrupted)
    wav = write(tmp_path / "a.wav")
    code, _, err = cli(capsys, "encode", wav, "-o", tmp_path / "o", "-m", models["causal"])
    assert code == ExitCode.INTERRUPTED == 130 and err.strip() == "error: interrupted"


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return dict(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["eval", "export-tokens", "encode", "decode", "stream"])
def test_every_option_has_help(command: str) -> None:
    for action in subparsers()[command]._actions:
        assert (action.help or "").strip(), (
            f"codec {command} {action.option_strings or action.dest}"
        )


@pytest.mark.parametrize(
    "command", ["encode", "decode", "roundtrip", "stream", "eval", "export-tokens"]
)
def test_quiet_and_verbose(command: str) -> None:
    options = {o for a in subparsers()[command]._actions for o in a.option_strings}
    assert {"--quiet", "-q", "--verbose", "-v"} <= options
    with pytest.raises(SystemExit):  # exclusive
        subparsers()[command].parse_args(["x", "-o", "y", "-q", "-v"])
