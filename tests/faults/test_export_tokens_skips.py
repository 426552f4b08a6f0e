"""``export-tokens`` over corpora with files it cannot use: every skip is in the manifest's
``skipped`` list with its reason, printed once as our own ``error:`` line, and the exit code
is 1; the usable files are exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.model import Codec
from tests.cli.conftest import cli, write
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return Codec(tiny_config()).eval().save_pretrained(tmp_path_factory.mktemp("model") / "m")


def export(capsys: Any, model: Path, out: Path, *inputs: Path) -> tuple[int, list[str], dict]:
    code, _, err = cli(capsys, "export-tokens", *inputs, "-o", out, "-m", model, "--device", "cpu")
    assert "Warning" not in err and ".py:" not in err  # no Python warning lines
    lines = [line for line in err.splitlines() if line.startswith(("error:", "warning:"))]
    return code, lines, json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("given_as", ["folder", "list"])
def test_unreadable_file_is_listed_and_reported(
    given_as: str, tmp_path: Path, model: Path, capsys: Any
) -> None:
    corpus = tmp_path / "corpus"
    good = write(corpus / "good.wav")
    bad = corpus / "bad.wav"
    bad.write_bytes(b"not audio at all")
    listing = tmp_path / "files.txt"
    listing.write_text("corpus/good.wav\ncorpus/bad.wav\n")
    source = corpus if given_as == "folder" else listing
    code, lines, manifest = export(capsys, model, tmp_path / "shards", source)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad.resolve()}: unreadable audio")
    relative = "bad.wav" if given_as == "folder" else "corpus/bad.wav"  # to the input's folder
    assert [s["source"] for s in manifest["skipped"]] == [relative]
    assert "unreadable audio" in manifest["skipped"][0]["reason"]
    assert manifest["num_items"] == 1 and manifest["complete"]
    assert bad.read_bytes() == b"not audio at all" and good.is_file()


def test_every_skip_once_and_a_rerun_keeps_the_list(
    tmp_path: Path, model: Path, capsys: Any
) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "good.wav")
    (corpus / "bad.flac").write_bytes(b"\x00" * 64)
    sf.write(corpus / "short.wav", np.zeros(3, dtype=np.float32), 16000)
    out = tmp_path / "shards"
    code, lines, manifest = export(capsys, model, out, corpus)
    assert code == 1 and len(lines) == 2
    reasons = {Path(s["source"]).name: s["reason"] for s in manifest["skipped"]}
    assert (
        set(reasons) == {"bad.flac", "short.wav"}
        and "shorter than one frame" in reasons["short.wav"]
    )
    code, lines, again = export(capsys, model, out, corpus)  # resume: the good file is kept
    assert code == 1 and len(lines) == 2
    assert again["skipped"] == manifest["skipped"] and again["num_items"] == 1


def test_clean_corpus_exits_zero(tmp_path: Path, model: Path, capsys: Any) -> None:
    write(tmp_path / "corpus" / "good.wav")
    code, lines, manifest = export(capsys, model, tmp_path / "shards", tmp_path / "corpus")
    assert code == 0 and lines == [] and manifest["skipped"] == []
