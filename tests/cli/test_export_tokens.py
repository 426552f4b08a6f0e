"""``codec export-tokens``: shards from a folder; user errors are one line (exit codes 1 / 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from codec.cli.export_tokens import add_parser, run
from codec.lm.shards import TokenShards

from .conftest import cli, write


def parse(inputs: Path, out: Path, model: Path, *options: object) -> argparse.Namespace:
    """``codec export-tokens INPUTS -o OUT --model MODEL OPTIONS...`` parsed."""
    parser = argparse.ArgumentParser(prog="codec")
    add_parser(parser.add_subparsers(dest="command"))
    argv = ["export-tokens", str(inputs), "-o", str(out), "--model", str(model)]
    return parser.parse_args(argv + [str(o) for o in options])


def test_export_tokens(
    tmp_path: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for i, n in enumerate([1600, 2400, 4000]):
        write(tmp_path / "in" / f"utt{i}.wav", n, i)
    out = tmp_path / "shards"
    options = ("--num-codebooks", 2, "--shard-frames", 500, "--batch-size", 2)
    args = parse(tmp_path / "in", out, models["causal"], *options)
    assert args.func is run
    assert run(args) == 0
    assert TokenShards(out).num_codebooks == 2
    capsys.readouterr()
    code, _, err = cli(
        capsys, "export-tokens", tmp_path / "nope", "-o", out, "-m", models["causal"]
    )
    assert code == 1 and err.startswith("error:") and "nope" in err and "\n" not in err.strip()
    argv = ["export-tokens", tmp_path / "in", "-o", out, "-m", models["causal"], "-k", 3]
    code, _, err = cli(capsys, *argv)  # a codebook count the model does not have: bad argument
    assert code == 2 and "--model" in err and "\n" not in err.strip()


def test_parquet_without_pyarrow_is_one_line_naming_the_extra(
    tmp_path: Path,
    models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import codec.cli.export_tokens as cli

    monkeypatch.setattr(cli, "has_pyarrow", lambda: False)
    write(tmp_path / "in" / "utt.wav", 1600, 0)
    out = tmp_path / "shards"
    assert run(parse(tmp_path / "in", out, models["causal"], "--parquet")) == 1
    err = capsys.readouterr().err
    assert err == "error: --parquet needs pyarrow: pip install 'speech-token-codec[lm]'\n"
    assert not out.exists()  # refused before encoding anything
