"""Measure codecs the way papers do: ``codec eval`` and :func:`evaluate`.

Every system (a trained model at some number of codebooks, Opus, an 8 kHz telephone band, a
converted peer model) is run on the same utterances, at one evaluation sample rate, and scored
with the functions of :mod:`codec.metrics` (the ones training validation logs), so a training
curve and a report agree. Per utterance: PESQ wide- and narrow-band, STOI, ESTOI, SI-SDR, mel and
multi-resolution STFT distance. Per system: mean with a 95 % confidence interval, nominal and
measured bitrate (token / Ogg file bytes over duration), real-time factor of encode and decode,
and for codecs per-codebook usage and entropy over the set and token stability under
decode -> re-encode.

A metric that cannot score an utterance (PESQ finds no utterance in silence) is skipped and
listed; an unreadable file is listed and left out; neither stops the run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from codec import metrics as M
from codec.audio import AUDIO_EXTENSIONS, AudioError, load_audio, resample
from codec.errors import one_line
from codec.fileio import atomic_path, atomic_write_bytes

if TYPE_CHECKING:
    from codec.model import Codec

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "CodecSystem",
    "EvalReport",
    "System",
    "SystemOutput",
    "SystemResult",
    "Utterance",
    "add_eval_parser",
    "codebook_stats",
    "codec_systems",
    "collect_files",
    "confidence_interval",
    "evaluate",
    "load_model",
    "run_eval",
    "summarize",
    "utterance_metrics",
]

# ------------------------------------------------------------------------------------- metrics

METRICS: dict[str, str] = {
    "pesq_wb": "PESQ-WB",
    "pesq_nb": "PESQ-NB",
    "stoi": "STOI",
    "estoi": "ESTOI",
    "si_sdr": "SI-SDR (dB)",
    "mel_distance": "mel dist.",
    "stft_distance": "STFT dist.",
}
"""Utterance metrics by key, with their table labels."""

DEFAULT_METRICS: tuple[str, ...] = tuple(METRICS)
HIGHER_IS_BETTER: dict[str, bool] = {k: not k.endswith("_distance") for k in METRICS}


def _align(estimate: Tensor, length: int) -> Tensor:
    """Crop or zero-pad ``estimate`` [..., T'] to ``length`` samples."""
    if estimate.shape[-1] >= length:
        return estimate[..., :length]
    return torch.nn.functional.pad(estimate, (0, length - estimate.shape[-1]))


def _metric(name: str, est: Tensor, ref: Tensor, sample_rate: int) -> float | None:
    if name == "pesq_wb":
        return M.pesq(est, ref, sample_rate, "wb")
    if name == "pesq_nb":
        return M.pesq(est, ref, sample_rate, "nb")
    if name == "stoi":
        return M.stoi(est, ref, sample_rate, extended=False)
    if name == "estoi":
        return M.stoi(est, ref, sample_rate, extended=True)
    batch_est, batch_ref = est.view(1, 1, -1), ref.view(1, 1, -1)
    if name == "si_sdr":
        return float(M.si_sdr(batch_est, batch_ref)[0])
    if name == "mel_distance":
        return float(M.mel_distance(batch_est, batch_ref, sample_rate))
    if name == "stft_distance":
        return float(M.stft_distance(batch_est, batch_ref))
    raise ValueError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")


def utterance_metrics(
    estimate: Tensor,
    reference: Tensor,
    sample_rate: int,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> tuple[dict[str, float], dict[str, str]]:
    """Score one mono utterance ``[T]`` (or ``[1, T]``) against its reference.

    The estimate is cropped / zero-padded to the reference length; PESQ resamples both to
    16 kHz (wb) or 8 kHz (nb), STOI to 10 kHz. Returns ``(scores, skipped)``: ``skipped`` maps
    each metric that could not score this utterance to the reason (no utterance for PESQ, a
    missing package, a non-finite result, any other error).
    """
    ref = reference.detach().float().cpu().reshape(-1)
    est = _align(estimate.detach().float().cpu().reshape(-1), ref.shape[-1])
    scores: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name in metrics:
        try:
            value = _metric(name, est, ref, sample_rate)
        except M.MetricUnavailableError as err:
            skipped[name] = str(err)
            continue
        except ValueError as err:
            if name not in METRICS:
                raise
            skipped[name] = f"error: {one_line(err)}"
            continue
        except Exception as err:  # a metric library failing on one file must not stop the run
            skipped[name] = f"error: {type(err).__name__}: {one_line(err)}"
            continue
        if value is None:
            skipped[name] = "no utterance detected (PESQ)"
        elif not math.isfinite(value):
            skipped[name] = "non-finite score"
        else:
            scores[name] = value
    return scores, skipped


# ------------------------------------------------------------------------------------ statistics


def confidence_interval(
    values: Sequence[float],
    level: float = 0.95,
    method: str = "t",
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Two-sided confidence interval of the mean: Student t (``method="t"``) or a percentile
    bootstrap (``"bootstrap"``, seeded, so reports are reproducible). ``None`` with fewer than
    two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    mean = float(x.mean())
    if method == "t":
        from scipy import stats

        half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * float(x.std(ddof=1))
        half /= math.sqrt(x.size)
        return mean - half, mean + half
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
        low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
        return float(low), float(high)
    raise ValueError(f"CI method must be 't' or 'bootstrap', got {method!r}")


def summarize(values: Sequence[float], level: float = 0.95, method: str = "t") -> dict[str, Any]:
    """``n``, ``mean``, ``std``, ``median``, ``min``, ``max``, ``ci_low``, ``ci_high`` of
    ``values`` (``None`` where undefined)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        keys = ("mean", "std", "median", "min", "max", "ci_low", "ci_high")
        return {"n": 0} | dict.fromkeys(keys)
    ci = confidence_interval(values, level, method)
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "median": float(np.median(x)),
        "min": float(x.min()),
        "max": float(x.max()),
        "ci_low": None if ci is None else ci[0],
        "ci_high": None if ci is None else ci[1],
    }


def codebook_stats(counts: Tensor) -> list[dict[str, float]]:
    """Per codebook of ``counts`` [K, codebook_size]: ``usage`` (fraction of codes used at
    least once), ``entropy_bits``, ``normalized_entropy`` (1 = uniform) and ``perplexity``."""
    from codec.quantize.functional import entropy, normalized_entropy, perplexity

    counts = counts.double()
    rows = []
    for k in range(counts.shape[0]):
        c = counts[k]
        rows.append(
            {
                "codebook": k,
                "frames": int(c.sum()),
                "usage": float((c > 0).double().mean()),
                "entropy_bits": max(0.0, float(entropy(c)) / math.log(2)),
                "normalized_entropy": float(normalized_entropy(c)),
                "perplexity": float(perplexity(c)),
            }
        )
    return rows


# --------------------------------------------------------------------------------------- systems


@dataclass
class SystemOutput:
    """One utterance through a system: ``audio`` [T] at the input rate and length, the size of
    what would be stored or sent (``file_bytes``, ``payload_bytes`` without container headers),
    wall-clock ``encode_seconds`` / ``decode_seconds``, and for neural codecs the valid
    ``codes`` [K, F] and the fraction of identical codes after decode -> re-encode cycles."""

    audio: Tensor
    file_bytes: int | None = None
    payload_bytes: int | None = None
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0
    codes: Tensor | None = None
    stability: dict[int, float] | None = None


class System(ABC):
    """Something that turns audio into bits and back. ``family`` groups systems drawn as one
    line (same codec, several bitrates); ``nominal_bitrate`` in bits/s (``None`` if unknown)."""

    name: str = "system"
    family: str = "system"
    kind: str = "system"
    nominal_bitrate: float | None = None

    @abstractmethod
    def process(self, wav: Tensor, sample_rate: int) -> SystemOutput:
        """Encode and decode mono ``wav`` [T] at ``sample_rate``; audio back at the same rate."""

    def warmup(self, sample_rate: int) -> None:  # noqa: B027 - optional hook
        """Run once before timing (lazy initialisation, allocator warm-up)."""

    def info(self) -> dict[str, Any]:
        """Settings recorded in the report."""
        return {}

    @property
    def codebook_size(self) -> int | None:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _token_payload_bytes(data: bytes) -> int:
    """Bytes of packed codes in a token file (everything after the magic, version and header)."""
    (hlen,) = struct.unpack_from("<I", data, 5)
    return len(data) - 9 - int(hlen)


class CodecSystem(System):
    """A :class:`~codec.model.Codec` at ``num_codebooks``; ``stability_cycles`` decode ->
    re-encode cycles measure token stability (0 disables)."""

    kind = "codec"

    def __init__(
        self,
        model: Codec,
        num_codebooks: int | None = None,
        name: str | None = None,
        family: str | None = None,
        stability_cycles: int = 5,
    ) -> None:
        self.model = model.eval()
        self.num_codebooks = model.check_num_codebooks(num_codebooks)
        self.family = family or model.config.model_id
        self.name = name or f"{self.family} K={self.num_codebooks}"
        self.nominal_bitrate = model.bitrate(self.num_codebooks)
        self.stability_cycles = stability_cycles

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "model_id": cfg.model_id,
            "num_codebooks": self.num_codebooks,
            "max_codebooks": self.model.num_codebooks,
            "codebook_size": self.model.codebook_size,
            "groups": self.model.groups,
            "sample_rate": self.model.sample_rate,
            "frame_rate": self.model.frame_rate,
            "causal": cfg.seanet.causal,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.model.device),
        }

    def warmup(self, sample_rate: int) -> None:
        wav = torch.randn(1, 1, self.model.sample_rate) * 0.01
        tokens = self.model.encode(wav, self.model.sample_rate, num_codebooks=self.num_codebooks)
        self.model.decode(tokens)

    def process(self, wav: Tensor, sample_rate: int) -> SystemOutput:
        model, k = self.model, self.num_codebooks
        rate = model.sample_rate
        x = resample(wav.reshape(1, 1, -1).float(), sample_rate, rate)
        device = model.device
        _sync(device)
        start = time.perf_counter()
        tokens = model.encode(x, rate, num_codebooks=k)
        _sync(device)
        middle = time.perf_counter()
        audio = model.decode(tokens)
        _sync(device)
        end = time.perf_counter()
        data = tokens.item(0).to_bytes()
        codes = tokens.codes[0, :, : int(tokens.lengths[0])]
        stability = self._stability(codes, audio) if self.stability_cycles > 0 else None
        out = resample(audio.mean(dim=1)[0].cpu(), rate, sample_rate)
        return SystemOutput(
            audio=_align(out, wav.shape[-1]),
            file_bytes=len(data),
            payload_bytes=_token_payload_bytes(data),
            encode_seconds=middle - start,
            decode_seconds=end - middle,
            codes=codes,
            stability=stability,
        )

    def _stability(self, codes: Tensor, audio: Tensor) -> dict[int, float]:
        """Fraction of codes identical to the first encode after each decode -> re-encode."""
        model, result = self.model, {}
        for cycle in range(1, self.stability_cycles + 1):
            tokens = model.encode(audio, model.sample_rate, num_codebooks=self.num_codebooks)
            again = tokens.codes[0, :, : int(tokens.lengths[0])]
            n = min(again.shape[-1], codes.shape[-1])
            same = (again[:, :n] == codes[:, :n]).double().sum() / max(codes.numel(), 1)
            result[cycle] = float(same)
            if cycle < self.stability_cycles:
                audio = model.decode(tokens)
        return result


def codec_systems(
    model: Codec,
    num_codebooks: Iterable[int] | None = None,
    family: str | None = None,
    stability_cycles: int = 5,
) -> list[CodecSystem]:
    """One :class:`CodecSystem` per codebook count (default: all codebooks)."""
    counts = [model.num_codebooks] if num_codebooks is None else list(num_codebooks)
    return [CodecSystem(model, k, family=family, stability_cycles=stability_cycles) for k in counts]


def load_model(spec: str) -> Codec:
    """Load ``spec`` with :func:`codec.cli.load_model` (an exported folder, a training
    checkpoint, ``encodec_24khz:PATH``); without ``codec.cli``, :meth:`Codec.from_pretrained`."""
    import importlib

    try:
        loader = importlib.import_module("codec.cli").load_model
    except (ImportError, AttributeError):
        loader = None
    if loader is not None:
        model: Codec = loader(spec)
        return model
    from codec.model import Codec

    preset, sep, path = spec.partition(":")
    if sep and not Path(spec).exists():
        return Codec.from_pretrained(preset, path)
    return Codec.from_pretrained(spec)


# ---------------------------------------------------------------------------------------- inputs


@dataclass
class Utterance:
    """In-memory input to :func:`evaluate`: mono or multi-channel ``wav`` [C, T] or [T]."""

    name: str
    wav: Tensor
    sample_rate: int


def collect_files(
    inputs: Iterable[str | os.PathLike[str]], max_files: int | None = None
) -> tuple[list[Path], list[dict[str, str]]]:
    """Expand folders (recursively, audio suffixes), JSONL manifests (``.jsonl``) and file lists
    (``.txt`` / ``.lst``) into audio paths, in order; paths that do not exist or lists that do
    not parse are returned as error rows ``{"file", "error"}``. Keeps the first ``max_files``."""
    from codec.data.manifest import read_file_list, read_manifest

    paths: list[Path] = []
    errors: list[dict[str, str]] = []
    for raw in inputs:
        item = Path(raw)
        try:
            if item.is_dir():
                found = sorted(
                    p
                    for p in item.rglob("*")
                    if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                )
                if not found:
                    errors.append({"file": str(item), "error": "no audio files in folder"})
                paths.extend(found)
            elif item.suffix.lower() == ".jsonl":
                paths.extend(r.path for r in read_manifest(item))
            elif item.suffix.lower() in (".txt", ".lst"):
                paths.extend(r.path for r in read_file_list(item, skip_unreadable=False))
            elif item.exists():
                paths.append(item)
            else:
                errors.append({"file": str(item), "error": "no such file or folder"})
        except (OSError, ValueError) as err:
            errors.append({"file": str(item), "error": one_line(err)})
    if max_files is not None:
        paths = paths[:max_files]
    return paths, errors


# ---------------------------------------------------------------------------------------- report


@dataclass
class SystemResult:
    """Everything measured for one system."""

    name: str
    family: str
    kind: str
    info: dict[str, Any]
    utterances: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    bitrate: dict[str, float | None] = field(default_factory=dict)
    rtf: dict[str, float | None] = field(default_factory=dict)
    codebooks: list[dict[str, float]] | None = None
    stability: dict[str, float] | None = None

    def mean(self, metric: str) -> float | None:
        stats = self.summary.get(metric)
        return None if stats is None else stats.get("mean")


@dataclass
class EvalReport:
    """The result of :func:`evaluate`: per system results, the files, unreadable files and the
    settings. ``save(folder)`` writes ``report.json``, ``report.md`` and ``quality_vs_bitrate.png``."""

    systems: list[SystemResult]
    files: list[str]
    errors: list[dict[str, str]]
    settings: dict[str, Any]

    def system(self, name: str) -> SystemResult:
        for result in self.systems:
            if result.name == name:
                return result
        raise KeyError(f"no system named {name!r}; have {[s.name for s in self.systems]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "codec-eval",
            "version": 1,
            "settings": self.settings,
            "files": self.files,
            "errors": self.errors,
            "systems": [_result_dict(s) for s in self.systems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        return render_markdown(self)

    def save(
        self, directory: str | os.PathLike[str], force: bool = False, plots: bool = True
    ) -> list[Path]:
        """Write the report into ``directory`` (atomic writes). Refuses to overwrite an existing
        ``report.json`` unless ``force``. Returns the written paths."""
        out = Path(directory)
        check_output_dir(out, force)
        written = []
        if plots:
            png = out / "quality_vs_bitrate.png"
            plot_report(self, png)
            written.append(png)
        for name, text in (("report.md", self.to_markdown()), ("report.json", self.to_json())):
            atomic_write_bytes(out / name, text.encode("utf-8"), force=True)
            written.append(out / name)
        for path in written:  # temp files are created 0600; make the report readable
            path.chmod(0o644 & ~_umask())
        return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


REPORT_FILES = ("report.json", "report.md", "quality_vs_bitrate.png")


def check_output_dir(directory: Path, force: bool) -> None:
    """Raise :class:`FileExistsError` if ``directory`` holds a report and not ``force``."""
    existing = [directory / n for n in REPORT_FILES if (directory / n).exists()]
    if existing and not force:
        raise FileExistsError(
            f"{directory} already holds a report ({existing[0].name}); use --force to overwrite"
        )


def _result_dict(result: SystemResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "family": result.family,
        "kind": result.kind,
        "info": result.info,
        "bitrate": result.bitrate,
        "rtf": result.rtf,
        "summary": result.summary,
        "stability": result.stability,
        "codebooks": result.codebooks,
        "skipped": result.skipped,
        "failures": result.failures,
        "utterances": result.utterances,
    }


# -------------------------------------------------------------------------------------- evaluate


def _load_inputs(item: str | os.PathLike[str] | Utterance, sample_rate: int) -> tuple[str, Tensor]:
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
        metrics: keys of :data:`METRICS`.
        ci_method: ``"t"`` or ``"bootstrap"`` 95 % intervals of the mean (``ci_level``).
        errors: earlier error rows (e.g. from :func:`collect_files`) to carry into the report.
        progress: called with one line per utterance.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique, got {names}")
    if sample_rate is None:
        rates = [s.model.sample_rate for s in systems if isinstance(s, CodecSystem)]
        sample_rate = rates[0] if rates else 16000
    results = [SystemResult(s.name, s.family, s.kind, s.info()) for s in systems]
    counts: list[Tensor | None] = [None] * len(systems)
    totals = [{"seconds": 0.0, "bytes": 0, "payload": 0, "enc": 0.0, "dec": 0.0} for _ in systems]
    stability: list[dict[int, list[float]]] = [{} for _ in systems]
    error_rows = list(errors)
    evaluated: list[str] = []
    total_seconds = 0.0
    warmed = False
    for item in files:
        label = item.name if isinstance(item, Utterance) else str(item)
        try:
            name, ref = _load_inputs(item, sample_rate)
        except (AudioError, OSError, ValueError) as err:
            error_rows.append({"file": label, "error": one_line(err)})
            continue
        if not warmed:
            for system in systems:
                system.warmup(sample_rate)
            warmed = True
        evaluated.append(name)
        duration = ref.shape[-1] / sample_rate
        total_seconds += duration
        for i, (system, result) in enumerate(zip(systems, results)):
            try:
                out = system.process(ref, sample_rate)
            except Exception as err:  # one file failing a system is reported, not fatal
                result.failures.append({"file": name, "error": f"{type(err).__name__}: {err}"})
                continue
            scores, skipped = utterance_metrics(out.audio, ref, sample_rate, metrics)
            row: dict[str, Any] = {"file": name, "duration": duration} | scores
            if out.file_bytes is not None:
                row["bitrate_file"] = out.file_bytes * 8 / duration
            if out.stability is not None:
                row["stability"] = {str(k): v for k, v in out.stability.items()}
                for cycle, value in out.stability.items():
                    stability[i].setdefault(cycle, []).append(value)
            result.utterances.append(row)
            result.skipped.extend(
                {"file": name, "metric": m, "reason": r} for m, r in skipped.items()
            )
            total = totals[i]
            total["seconds"] += duration
            total["bytes"] += out.file_bytes or 0
            total["payload"] += out.payload_bytes or 0
            total["enc"] += out.encode_seconds
            total["dec"] += out.decode_seconds
            if out.codes is not None and system.codebook_size is not None:
                hist = _code_counts(out.codes, system.codebook_size)
                previous = counts[i]
                counts[i] = hist if previous is None else previous + hist
        if progress is not None:
            progress(f"{len(evaluated)}: {name} ({duration:.2f} s)")
    for i, (system, result) in enumerate(zip(systems, results)):
        total = totals[i]
        seconds = total["seconds"]
        has_bytes = seconds > 0 and total["bytes"] > 0
        result.bitrate = {
            "nominal": system.nominal_bitrate,
            "file": total["bytes"] * 8 / seconds if has_bytes else None,
            "payload": total["payload"] * 8 / seconds if has_bytes else None,
        }
        result.rtf = {
            "encode": total["enc"] / seconds if seconds else None,
            "decode": total["dec"] / seconds if seconds else None,
        }
        for metric in metrics:
            values = [row[metric] for row in result.utterances if metric in row]
            result.summary[metric] = summarize(values, ci_level, ci_method)
        final = counts[i]
        if final is not None:
            result.codebooks = codebook_stats(final)
        if stability[i]:
            result.stability = {str(c): float(np.mean(v)) for c, v in sorted(stability[i].items())}
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


def _code_counts(codes: Tensor, codebook_size: int) -> Tensor:
    codes = codes.long().cpu()
    return torch.stack([torch.bincount(c, minlength=codebook_size) for c in codes]).double()


# ------------------------------------------------------------------------------------- rendering


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cell(stats: dict[str, Any] | None, digits: int) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    mean = stats["mean"]
    if stats.get("ci_high") is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {stats['ci_high'] - mean:.{digits}f}"


_DIGITS = {"si_sdr": 1, "pesq_wb": 2, "pesq_nb": 2, "stoi": 3, "estoi": 3}


def _kbps(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f}"


def render_markdown(report: EvalReport) -> str:
    """The report as Markdown: a quality table, codebook usage, skips and unreadable files."""
    s = report.settings
    metrics = s["metrics"]
    lines = [
        "# Codec evaluation",
        "",
        f"{s['num_files']} utterance(s), {s['total_seconds']:.1f} s, scored at "
        f"{s['sample_rate']} Hz; mean ± half-width of the {100 * s['ci']['level']:g} % "
        f"confidence interval ({s['ci']['method']}). Bitrates in kbps: nominal, and measured "
        "from the stored file (token file / Ogg / WAV bytes over duration). RTF = processing "
        "time / audio duration (lower is faster).",
        "",
    ]
    lines += [f"- Note: {note}" for note in s.get("notes", [])]
    if s.get("notes"):
        lines.append("")
    head = ["system", "kbps", "kbps file"] + [METRICS[m] for m in metrics]
    last = max((int(c) for r in report.systems for c in (r.stability or {})), default=5)
    head += ["RTF enc", "RTF dec", "stable@1", f"stable@{last}", "code use"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report.systems:
        stab = r.stability or {}
        usage = (
            "-"
            if not r.codebooks
            else f"{100 * float(np.mean([c['usage'] for c in r.codebooks])):.1f}%"
        )
        cells = [r.name, _kbps(r.bitrate.get("nominal")), _kbps(r.bitrate.get("file"))]
        cells += [_cell(r.summary.get(m), _DIGITS.get(m, 3)) for m in metrics]
        cells += [_fmt(r.rtf.get("encode"), 3), _fmt(r.rtf.get("decode"), 3)]
        cells += [_fmt(stab.get("1"), 3), _fmt(stab.get(str(last)), 3) if last > 1 else "-"]
        cells.append(usage)
        lines.append("| " + " | ".join(cells) + " |")
    codecs = [r for r in report.systems if r.codebooks]
    if codecs:
        lines += [
            "",
            "## Codebooks",
            "",
            "Usage = share of the codebook used at least once over the set; entropy in bits "
            "(log2 of the codebook size is the maximum).",
            "",
            "| system | codebook | usage | entropy (bits) | perplexity |",
            "|---|---|---|---|---|",
        ]
        for r in codecs:
            for c in r.codebooks or []:
                lines.append(
                    f"| {r.name} | {c['codebook']} | {100 * c['usage']:.1f}% | "
                    f"{c['entropy_bits']:.2f} | {c['perplexity']:.1f} |"
                )
    skipped = [(r.name, row) for r in report.systems for row in r.skipped]
    failures = [(r.name, row) for r in report.systems for row in r.failures]
    if skipped or failures or report.errors:
        lines += ["", "## Skipped", ""]
        for name, row in failures:
            lines.append(f"- {name}: `{row['file']}` failed: {row['error']}")
        tally: dict[tuple[str, str, str], int] = {}
        for name, row in skipped:
            key = (name, row["metric"], row["reason"])
            tally[key] = tally.get(key, 0) + 1
        for (name, metric, reason), n in tally.items():
            lines.append(f"- {name}: {metric} skipped on {n} file(s): {reason}")
        for row in report.errors:
            lines.append(f"- unreadable `{row['file']}`: {row['error']}")
    return "\n".join(lines) + "\n"


PLOT_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "mel_distance")


def plot_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Metric (mean with CI bars) against nominal bitrate (as papers plot it; the measured one is
    in the table), one line per system family; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in PLOT_METRICS if m in report.settings["metrics"]] or list(
        report.settings["metrics"]
    )
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    families: dict[str, list[SystemResult]] = {}
    for r in report.systems:
        families.setdefault(r.family, []).append(r)
    for ax, metric in zip(axes.flat, metrics):
        for family, members in families.items():
            points = []
            for r in members:
                stats = r.summary.get(metric) or {}
                rate = r.bitrate.get("nominal") or r.bitrate.get("file")
                if stats.get("mean") is None or not rate:
                    continue
                low = stats["ci_low"] if stats.get("ci_low") is not None else stats["mean"]
                high = stats["ci_high"] if stats.get("ci_high") is not None else stats["mean"]
                points.append(
                    (rate / 1000, stats["mean"], stats["mean"] - low, high - stats["mean"])
                )
            if not points:
                continue
            points.sort()
            x, y, lo, hi = (list(v) for v in zip(*points))
            ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, label=family)
        ax.set_xscale("log")
        ax.set_xlabel("nominal bitrate (kbps)")
        ax.set_title(METRICS[metric])
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    target = Path(path)
    with atomic_path(target, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return target


# ------------------------------------------------------------------------------------------- CLI


def _int_list(values: Sequence[str] | None) -> list[int] | None:
    if not values:
        return None
    out = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                out.append(int(part))
    return out


def add_eval_parser(subparsers: Any) -> None:
    """Register ``codec eval`` on an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser(
        "eval",
        help="measure models and baselines (PESQ, STOI, SI-SDR, bitrate, RTF, codebooks)",
        description=(
            "Encode and decode DATA with each model (at each --num-codebooks) and each baseline, "
            "score every utterance and write report.json, report.md and quality_vs_bitrate.png."
        ),
    )
    p.add_argument(
        "data", nargs="+", metavar="DATA", help="audio files, folders, .jsonl manifests, .txt lists"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="M",
        help="exported folder, training .ckpt, or encodec_24khz:PATH (repeatable)",
    )
    p.add_argument(
        "--num-codebooks",
        "-k",
        action="append",
        metavar="K",
        help="codebook counts to evaluate, e.g. 1,2,4 (default: all of the model's)",
    )
    p.add_argument("-o", "--output", default="eval", metavar="OUT_DIR", help="report folder")
    p.add_argument("--max-files", type=int, default=None, metavar="N")
    p.add_argument(
        "--baselines",
        default="opus,8k",
        help="comma list: opus (ladder), opus:6k, 8k (telephone band), ulaw (G.711), "
        "encodec:PATH, none (default: opus,8k)",
    )
    p.add_argument("--sample-rate", type=int, default=None, help="evaluation rate (default: model)")
    p.add_argument(
        "--metrics", default=",".join(DEFAULT_METRICS), help=f"comma list of {', '.join(METRICS)}"
    )
    p.add_argument("--stability-cycles", type=int, default=5, metavar="N")
    p.add_argument("--ci", choices=("t", "bootstrap"), default="t")
    p.add_argument("--device", default="cpu", help="torch device for the models")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """``codec eval``: 0 on success, 1 when nothing could be evaluated, 2 on bad arguments."""
    from codec.baselines import parse_baselines

    def say(msg: str) -> None:
        if not getattr(args, "quiet", False):
            print(msg, file=sys.stderr)

    out = Path(args.output)
    try:
        check_output_dir(out, args.force)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        print(
            f"error: unknown metrics {unknown}; choose from {', '.join(METRICS)}", file=sys.stderr
        )
        return 2
    try:
        ks = _int_list(args.num_codebooks)
    except ValueError:
        print(f"error: --num-codebooks takes integers, got {args.num_codebooks}", file=sys.stderr)
        return 2
    systems: list[System] = []
    codec_rates: list[float] = []
    notes: list[str] = []
    for spec in args.model:
        try:
            model = load_model(spec).to(args.device).eval()
        except Exception as err:
            print(f"error: cannot load model {spec!r}: {one_line(err)}", file=sys.stderr)
            return 2
        for k in ks or [model.num_codebooks]:
            try:
                systems.append(CodecSystem(model, k, stability_cycles=args.stability_cycles))
                codec_rates.append(model.bitrate(k))
            except ValueError as err:
                notes.append(f"{model.config.model_id}: {k} codebooks skipped ({err})")
    try:
        baselines, baseline_notes = parse_baselines(
            args.baselines, codec_rates, device=args.device, stability_cycles=args.stability_cycles
        )
    except ValueError as err:
        print(f"error: --baselines: {err}", file=sys.stderr)
        return 2
    notes += baseline_notes
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    systems += baselines
    if not systems:
        print("error: nothing to evaluate (give --model and/or --baselines)", file=sys.stderr)
        return 2
    files, errors = collect_files(args.data, args.max_files)
    for row in errors:
        print(f"warning: {row['file']}: {row['error']}", file=sys.stderr)
    say(f"evaluating {len(systems)} system(s) on {len(files)} file(s)")
    report = evaluate(
        systems,
        files,
        sample_rate=args.sample_rate,
        metrics=metrics,
        ci_method=args.ci,
        errors=errors,
        progress=say,
    )
    report.settings["argv"] = list(sys.argv)
    report.settings["notes"] = notes
    written = report.save(out, force=args.force, plots=not args.no_plots)
    if not getattr(args, "quiet", False):
        print(report.to_markdown())
    say("wrote " + ", ".join(str(p) for p in written))
    if not report.files:
        print("error: no file could be read", file=sys.stderr)
        return 1
    return 0
