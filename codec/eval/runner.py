"""Run systems on utterances and score them: :func:`evaluate`, and :func:`collect_files` to
expand the inputs of ``codec eval``.

Every system is run on the same utterances, at one evaluation sample rate, and scored with
:func:`~codec.eval.scores.utterance_metrics`. A metric that cannot score an utterance is
skipped and listed; an unreadable file is listed and left out; neither stops the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from codec.audio import AUDIO_EXTENSIONS, AudioError, load_audio, resample
from codec.data.manifest import read_file_list, read_manifest
from codec.errors import one_line
from codec.eval.report import EvalReport, SystemResult
from codec.eval.scores import DEFAULT_METRICS, METRICS, utterance_metrics
from codec.eval.statistics import codebook_stats, summarize
from codec.eval.systems import CodecSystem, System, SystemOutput
from codec.fileio import is_temp_name

__all__ = ["Utterance", "collect_files", "evaluate"]


@dataclass
class Utterance:
    """In-memory input to :func:`evaluate`: mono or multi-channel ``wav`` [C, T] or [T]."""

    name: str
    wav: Tensor
    sample_rate: int


def _expand(item: Path) -> list[Path]:
    """The audio paths of one input (a folder, a ``.jsonl`` manifest, a list or a file)."""
    if item.is_dir():
        found = sorted(
            p
            for p in item.rglob("*")
            if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not is_temp_name(p.name)
        )
        if not found:
            raise FileNotFoundError("no audio files in folder")
        return found
    if item.suffix.lower() == ".jsonl":
        return [r.path for r in read_manifest(item)]
    if item.suffix.lower() in (".txt", ".lst"):
        return [r.path for r in read_file_list(item, skip_unreadable=False)]
    if item.exists():
        return [item]
    raise FileNotFoundError("no such file or folder")


def collect_files(
    inputs: Iterable[str | os.PathLike[str]], max_files: int | None = None
) -> tuple[list[Path], list[dict[str, str]]]:
    """Expand folders (recursively, audio suffixes), JSONL manifests (``.jsonl``) and file lists
    (``.txt`` / ``.lst``) into audio paths, in order; paths that do not exist or lists that do
    not parse are returned as error rows ``{"file", "error"}``. Keeps the first ``max_files``."""
    paths: list[Path] = []
    errors: list[dict[str, str]] = []
    for raw in inputs:
        item = Path(raw)
        try:
            paths.extend(_expand(item))
        except (OSError, ValueError) as err:
            errors.append({"file": str(item), "error": one_line(err)})
    if max_files is not None:
        paths = paths[:max_files]
    return paths, errors


def _load_input(item: str | os.PathLike[str] | Utterance, sample_rate: int) -> tuple[str, Tensor]:
    """The name and mono reference [T] at ``sample_rate`` of one input."""
    if isinstance(item, Utterance):
        wav = item.wav.detach().float().cpu()
        if wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise AudioError(f"{item.name}: expected audio [C, T] or [T], got {tuple(wav.shape)}")
        if not torch.isfinite(wav).all():
            raise AudioError(f"{item.name}: audio contains NaN or infinite samples")
        return item.name, resample(wav.mean(0), item.sample_rate, sample_rate)
    audio = load_audio(item, sample_rate=sample_rate, mono=True)
    return str(item), audio.wav[0]


def _references(
    files: Iterable[str | os.PathLike[str] | Utterance],
    sample_rate: int,
    errors: list[dict[str, str]],
) -> Iterator[tuple[str, Tensor]]:
    """Name and reference [T] of each readable input, in order; the others go to ``errors``."""
    for item in files:
        try:
            yield _load_input(item, sample_rate)
        except (AudioError, OSError, ValueError) as err:
            label = item.name if isinstance(item, Utterance) else str(item)
            errors.append({"file": label, "error": one_line(err)})


class _Tally:
    """What one system accumulates over the utterances: rows, totals, code counts, stability."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.result = SystemResult(system.name, system.family, system.kind, system.info())
        self.seconds = self.enc = self.dec = 0.0
        self.bytes = self.payload = 0
        self.counts: Tensor | None = None
        self.stability: dict[int, list[float]] = {}

    def add(self, name: str, ref: Tensor, sample_rate: int, metrics: Sequence[str]) -> None:
        """Run the system on ``ref`` [T] and record its scores (or its failure)."""
        try:
            out = self.system.process(ref, sample_rate)
        except Exception as err:  # one file failing a system is reported, not fatal
            self.result.failures.append({"file": name, "error": f"{type(err).__name__}: {err}"})
            return
        duration = ref.shape[-1] / sample_rate
        scores, skipped = utterance_metrics(out.audio, ref, sample_rate, metrics)
        row: dict[str, Any] = {"file": name, "duration": duration} | scores
        if out.file_bytes is not None:
            row["bitrate_file"] = out.file_bytes * 8 / duration
        if out.stability is not None:
            row["stability"] = {str(k): v for k, v in out.stability.items()}
            for cycle, value in out.stability.items():
                self.stability.setdefault(cycle, []).append(value)
        self.result.utterances.append(row)
        self.result.skipped.extend(
            {"file": name, "metric": m, "reason": r} for m, r in skipped.items()
        )
        self._count(out, duration)

    def _count(self, out: SystemOutput, duration: float) -> None:
        self.seconds += duration
        self.bytes += out.file_bytes or 0
        self.payload += out.payload_bytes or 0
        self.enc += out.encode_seconds
        self.dec += out.decode_seconds
        size = self.system.codebook_size
        if out.codes is not None and size is not None:
            hist = _code_counts(out.codes, size)
            self.counts = hist if self.counts is None else self.counts + hist

    def finish(self, metrics: Sequence[str], ci_level: float, ci_method: str) -> SystemResult:
        """Bitrates, real-time factors, metric summaries, codebook usage and stability."""
        result, seconds = self.result, self.seconds
        has_bytes = seconds > 0 and self.bytes > 0
        result.bitrate = {
            "nominal": self.system.nominal_bitrate,
            "file": self.bytes * 8 / seconds if has_bytes else None,
            "payload": self.payload * 8 / seconds if has_bytes else None,
        }
        result.rtf = {
            "encode": self.enc / seconds if seconds else None,
            "decode": self.dec / seconds if seconds else None,
        }
        for metric in metrics:
            values = [row[metric] for row in result.utterances if metric in row]
            result.summary[metric] = summarize(values, ci_level, ci_method)
        if self.counts is not None:
            result.codebooks = codebook_stats(self.counts)
        if self.stability:
            result.stability = {
                str(c): float(np.mean(v)) for c, v in sorted(self.stability.items())
            }
        return result


def _code_counts(codes: Tensor, codebook_size: int) -> Tensor:
    """Histogram [K, codebook_size] of ``codes`` [K, F]."""
    codes = codes.long().cpu()
    return torch.stack([torch.bincount(c, minlength=codebook_size) for c in codes]).double()


def _check(systems: Sequence[System], metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique, got {names}")


def evaluate(
    systems: Sequence[System],
    files: Sequence[str | os.PathLike[str] | Utterance],
    sample_rate: int | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    ci_method: str = "t",
    ci_level: float = 0.95,
    errors: Sequence[dict[str, str]] = (),
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Run every system on every file and score it.

    Args:
        systems: e.g. ``codec_systems(model, [1, 2, 4]) + [OpusSystem(6000), ResampleSystem()]``.
        files: audio paths or in-memory :class:`Utterance` items.
        sample_rate: evaluation rate: references are loaded (resampled) at it and every system
            returns audio at it. Default: the first codec's rate, else 16 kHz.
        metrics: keys of :data:`~codec.eval.scores.METRICS`.
        ci_method: ``"t"`` or ``"bootstrap"`` 95 % intervals of the mean (``ci_level``).
        errors: earlier error rows (e.g. from :func:`collect_files`) to carry into the report.
        progress: called with one line per utterance.
    """
    _check(systems, metrics)
    if sample_rate is None:
        rates = [s.model.sample_rate for s in systems if isinstance(s, CodecSystem)]
        sample_rate = rates[0] if rates else 16000
    tallies = [_Tally(s) for s in systems]
    error_rows = list(errors)
    evaluated: list[str] = []
    total_seconds = 0.0
    for name, ref in _references(files, sample_rate, error_rows):
        if not evaluated:  # warm up once, before the first timed utterance
            for system in systems:
                system.warmup(sample_rate)
        evaluated.append(name)
        duration = ref.shape[-1] / sample_rate
        total_seconds += duration
        for tally in tallies:
            tally.add(name, ref, sample_rate, metrics)
        if progress is not None:
            progress(f"{len(evaluated)}: {name} ({duration:.2f} s)")
    results = [t.finish(metrics, ci_level, ci_method) for t in tallies]
    settings = {
        "sample_rate": sample_rate,
        "metrics": list(metrics),
        "ci": {"method": ci_method, "level": ci_level},
        "num_files": len(evaluated),
        "total_seconds": total_seconds,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    return EvalReport(results, evaluated, error_rows, settings)
