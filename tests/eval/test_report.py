"""Saving an evaluation report (what it holds: tests/eval/test_runner.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from codec.eval.runner import Utterance, evaluate
from codec.eval.systems import codec_systems
from tests.conftest import make_codec, mode

from .conftest import SR


def test_saved_report_respects_the_umask(tmp_path: Path, speech: torch.Tensor, umask: int) -> None:
    systems = codec_systems(make_codec(), [2], stability_cycles=0)
    report = evaluate(systems, [Utterance("speech", speech[None, :8000], SR)], metrics=["si_sdr"])
    written = report.save(tmp_path / "eval")
    assert {p.name for p in written} == {"report.json", "report.md", "quality_vs_bitrate.png"}
    assert {p.name: mode(p) for p in written} == {p.name: 0o666 & ~umask for p in written}
    assert mode(written[0]) == {0o022: 0o644, 0o077: 0o600}[umask]
