"""``codec export-onnx``: what a user runs, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, cli

pytest.importorskip("onnxruntime")


def test_exports_a_saved_model(
    capsys: pytest.CaptureFixture[str], models: dict[str, Path], tmp_path: Path
) -> None:
    code, out, _ = cli(capsys, "export-onnx", models["causal"], "-o", tmp_path / "out")
    assert code == 0 and "4 graphs" in out
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "codec_onnx.json",
        "decode.onnx",
        "decoder_step.onnx",
        "encode.onnx",
        "encoder_step.onnx",
    ]
    info = json.loads((tmp_path / "out" / "codec_onnx.json").read_text())
    assert info["model_id"] == "tiny-test" and info["hop_length"] == 8


def test_existing_output_needs_force(
    capsys: pytest.CaptureFixture[str], models: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    code, _, err = cli(capsys, "export-onnx", models["causal"], "-o", tmp_path / "out")
    assert code == 1 and err.count("\n") == 1 and "use --force" in err
    code, _, _ = cli(capsys, "export-onnx", models["causal"], "-o", tmp_path / "out", "--force")
    assert code == 0 and (tmp_path / "out" / "encode.onnx").exists()


@pytest.mark.parametrize(
    ("model", "message"), [("noncausal", "non-causal"), ("reflect", "pad_mode='reflect'")]
)
def test_models_without_step_form_refused(
    capsys: pytest.CaptureFixture[str],
    models: dict[str, Path],
    tmp_path: Path,
    model: str,
    message: str,
) -> None:
    code, _, err = cli(capsys, "export-onnx", models[model], "-o", tmp_path / "out")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


def test_unknown_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "export-onnx", tmp_path / "nothing", "-o", tmp_path / "out")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.slow
def test_bundled_default_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "export-onnx", "-o", tmp_path / "out")
    assert code == 0 and "16000 Hz, hop 320, 12 codebooks" in out
    info = json.loads((tmp_path / "out" / "codec_onnx.json").read_text())
    assert info["model_id"] == "speech-16k-6kbps" and "int8" not in info


def test_command_line_imports_no_onnx() -> None:
    """``import codec`` and the parser stay free of onnx / onnxruntime (an optional extra)."""
    code = (
        "import sys, codec, codec.cli\n"
        "codec.cli.build_parser()\n"
        "assert not {'onnx', 'onnxruntime'} & set(sys.modules), 'onnx imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr


def test_model_as_an_option_like_the_other_subcommands(
    capsys: pytest.CaptureFixture[str], models: dict[str, Path], tmp_path: Path
) -> None:
    code, out, _ = cli(capsys, "export-onnx", "-m", models["causal"], "-o", tmp_path / "out")
    assert code == 0 and "4 graphs" in out
    code, _, err = cli(
        capsys, "export-onnx", models["causal"], "-m", tmp_path / "other", "-o", tmp_path / "x"
    )
    assert code == 2 and err.count("\n") == 1 and "two models given" in err, err
    assert not (tmp_path / "x").exists()
