"""``evaluate`` end to end: inputs, bad files, the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from codec.eval.baselines import (
    OpusSystem,
)
from codec.eval.report import EvalReport
from codec.eval.runner import Utterance, collect_files, evaluate
from codec.eval.systems import codec_systems
from tests.conftest import make_codec

from .conftest import SR

pytest.importorskip("pesq")
pytest.importorskip("pystoi")


def test_collect_files(data_dir: Path, tmp_path: Path) -> None:
    paths, errors = collect_files([data_dir, tmp_path / "missing"], max_files=None)
    assert [p.name for p in paths] == ["a.wav", "b.flac", "corrupt.wav", "silence.wav"]
    assert errors and errors[0]["error"] == "no such file or folder"
    listing = tmp_path / "list.txt"
    listing.write_text(f"# files\n{data_dir / 'a.wav'}\n")
    paths, errors = collect_files([listing, data_dir / "b.flac"], max_files=1)
    assert [p.name for p in paths] == ["a.wav"] and not errors


def test_evaluate_writes_report_and_survives_bad_files(
    data_dir: Path, tmp_path: Path, speech: torch.Tensor
) -> None:
    model = make_codec()
    systems = [*codec_systems(model, [2], stability_cycles=1), OpusSystem(6000)]
    files, errors = collect_files([data_dir])
    files.append(Utterance("in-memory", speech[None, :8000], SR))
    report = evaluate(systems, files, errors=errors, metrics=["pesq_wb", "stoi", "si_sdr"])
    assert isinstance(report, EvalReport)
    assert len(report.files) == 4  # a, b, silence, in-memory
    assert [e["file"] for e in report.errors] == [str(data_dir / "corrupt.wav")]
    opus = report.system("opus 6 kbps")
    skipped = {(r["file"], r["metric"]) for r in opus.skipped}
    assert skipped == {(str(data_dir / "silence.wav"), "pesq_wb")}
    assert opus.summary["pesq_wb"]["n"] == 3 and opus.summary["si_sdr"]["n"] == 4
    assert opus.summary["stoi"]["ci_low"] < opus.summary["stoi"]["mean"]
    assert 6000 < opus.bitrate["file"] < 20000  # type: ignore[operator]
    codec = report.system("tiny-test K=2")
    assert codec.codebooks is not None and len(codec.codebooks) == 2
    assert codec.stability is not None and set(codec.stability) == {"1"}
    assert codec.rtf["encode"] is not None and codec.rtf["encode"] > 0
    assert codec.bitrate["nominal"] == model.bitrate(2)

    out = tmp_path / "report"
    written = report.save(out)
    assert {p.name for p in written} == {"report.json", "report.md", "quality_vs_bitrate.png"}
    data = json.loads((out / "report.json").read_text())
    assert data["systems"][1]["name"] == "opus 6 kbps"
    assert data["errors"][0]["file"].endswith("corrupt.wav")
    markdown = (out / "report.md").read_text()
    assert "| opus 6 kbps | 6.00 |" in markdown and "no utterance" in markdown
    assert (out / "quality_vs_bitrate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError):
        report.save(out)
    report.save(out, force=True, plots=False)
