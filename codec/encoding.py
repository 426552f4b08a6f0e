"""Encode many audio files into token files: inputs, length-bucketed batches, resume.

:class:`FileEncoder` is the engine behind ``codec encode``. Files are sorted by duration and
grouped into padded batches with per-item lengths (``Codec.encode`` guarantees batched ==
one-by-one); loading and resampling can run in DataLoader worker processes. Existing outputs
that are up to date are skipped (resume): made by this very model (its fingerprint) at the same
codebooks from the same input file (name, size and mtime_ns, stored in the token file). Files longer than ``stream_above`` seconds
are read block by block and fed to a streaming session (bounded memory; causal models only).
One bad file never stops the others: each failure is reported and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from codec.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    AudioInfo,
    audio_info,
    conversion_notices,
    convert_channels,
    load_audio,
    wav_truncation,
)
from codec.data.manifest import read_manifest
from codec.errors import USER_ERRORS, one_line
from codec.fileio import is_temp_name
from codec.model import Codec
from codec.streaming import encode_blocks
from codec.tokens import SourceStamp, Tokens, TokensFormatError

__all__ = [
    "EncodeReport",
    "FileEncoder",
    "Job",
    "Loaded",
    "collect_inputs",
    "existing_output_ok",
    "output_problem",
    "load_item",
    "plan_jobs",
]


@dataclass(frozen=True)
class Job:
    """One file to encode: ``source`` audio -> ``output`` token file."""

    source: Path
    output: Path


@dataclass
class EncodeReport:
    encoded: int = 0
    skipped: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0


# ------------------------------------------------------------------------- inputs / outputs
def collect_inputs(
    inputs: Sequence[str], extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[tuple[Path, Path]]:
    """``(file, relative path)`` for files, folders (recursive), ``.txt`` lists, ``.jsonl``
    manifests. Missing inputs are kept (they fail, with their name, when processed)."""
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    found: list[tuple[Path, Path]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            # our temp files (a killed writer's) are never inputs
            files = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in suffixes and not is_temp_name(p.name)
            )
            found += [(p, p.relative_to(path)) for p in files if p.is_file()]
        elif path.suffix.lower() == ".txt" and path.is_file():
            found += [(p, _relative(p, path.parent)) for p in _read_list(path)]
        elif path.suffix.lower() == ".jsonl" and path.is_file():
            found += [(r.path, _relative(r.path, path.parent)) for r in read_manifest(path)]
        else:
            found.append((path, Path(path.name)))
    return found


def _read_list(listing: Path) -> list[Path]:
    lines = listing.read_text(encoding="utf-8").splitlines()
    entries = [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]
    return [Path(e) if Path(e).is_absolute() else listing.parent / e for e in entries]


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(path.name)


def plan_jobs(
    found: Iterable[tuple[Path, Path]], output: Path, single: bool
) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Outputs: ``output`` itself when ``single``, else ``output/<relative path>.tok``. Inputs
    that would write the same output are left out, each with the reason: ``(jobs, clashes)``."""
    targets: dict[Path, list[Path]] = {}
    for source, rel in found:
        targets.setdefault(output if single else output / rel.with_suffix(".tok"), []).append(
            source
        )
    jobs = [Job(sources[0], target) for target, sources in targets.items() if len(sources) == 1]
    clashes = [
        (source, f"{len(sources)} inputs would write {target} ({', '.join(map(str, sources))})")
        for target, sources in targets.items()
        if len(sources) > 1
        for source in sources
    ]
    return jobs, clashes


def output_problem(
    path: Path, codec: Codec, num_codebooks: int, source: SourceStamp | None
) -> str | None:
    """None when ``path`` is an up-to-date token file: made by this model (fingerprint) at
    ``num_codebooks`` from the input ``source`` as it is now; otherwise why it is not."""
    try:
        tokens = Tokens.load(path)
    except TokensFormatError as exc:
        return f"exists but is not a readable token file ({str(exc).removeprefix(f'{path}: ')})"
    if not tokens.model_fingerprint:
        return "exists, written by an older codec without a model fingerprint"
    if tokens.model_fingerprint != codec.fingerprint:
        return (
            f"exists, made by another model (fingerprint {tokens.model_fingerprint[:12]}, "
            f"model {tokens.model_id!r}; this model is {codec.fingerprint[:12]})"
        )
    if tokens.num_codebooks != num_codebooks:
        return f"exists with K={tokens.num_codebooks} codebooks, not the {num_codebooks} asked for"
    if source is None or tokens.source != source:
        return "exists, made from another input file or before the input changed"
    return None


def existing_output_ok(
    path: Path, codec: Codec, num_codebooks: int, source: SourceStamp | None = None
) -> bool:
    """True when ``path`` is up to date (:func:`output_problem` finds nothing)."""
    return output_problem(path, codec, num_codebooks, source) is None


# ------------------------------------------------------------------------- loading
@dataclass
class Loaded:
    """A loaded item: ``wav`` [C, T] at the model rate, or ``error``; plus level facts."""

    wav: Tensor | None
    error: str | None = None
    full_scale: float = 0.0
    peak: float = 0.0


def load_item(path: Path, sample_rate: int, channels: int) -> Loaded:
    """Load, mix and resample one file; errors become ``Loaded.error`` (picklable)."""
    try:
        wav = load_audio(path, sample_rate=sample_rate, mono=channels == 1).wav
        wav = convert_channels(wav, channels)
    except USER_ERRORS as exc:
        return Loaded(None, one_line(exc, path))
    level = wav.abs()
    return Loaded(wav, None, float((level >= 0.999).float().mean()), float(level.max()))


class _BatchSet(Dataset[list[Loaded]]):
    def __init__(self, batches: list[list[Path]], sample_rate: int, channels: int) -> None:
        self.batches, self.sample_rate, self.channels = batches, sample_rate, channels

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> list[Loaded]:
        return [load_item(p, self.sample_rate, self.channels) for p in self.batches[index]]


def _identity(x: list[Loaded]) -> list[Loaded]:
    return x


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


# ------------------------------------------------------------------------- the engine
Notify = Callable[[str, Path, str], None]


class FileEncoder:
    """Encode jobs with one model; ``run`` returns the totals. Hooks report as it goes:
    ``on_start(total_seconds)``, ``on_progress(seconds)``, ``on_error(path, message)`` and
    ``on_notice(kind, path, message)`` (``kind`` names the conversion, for de-duplication),
    ``on_saved(job, seconds)`` (a token file written, from ``seconds`` of audio)."""

    def __init__(
        self,
        codec: Codec,
        num_codebooks: int | None = None,
        batch_size: int = 16,
        workers: int = 0,
        force: bool = False,
        stream_above: float = 600.0,
        batch_seconds: float = 30.0,
        block_seconds: float = 10.0,
        stamp_sources: bool = True,
    ) -> None:
        self.codec = codec
        self.num_codebooks = codec.check_num_codebooks(num_codebooks)
        if batch_size < 1 or workers < 0:
            raise ValueError("batch size must be >= 1 and workers >= 0")
        self.batch_size, self.workers, self.force = batch_size, workers, force
        self.stream_above, self.batch_seconds = stream_above, batch_seconds
        self.block_seconds, self.stamp_sources = block_seconds, stamp_sources
        self.on_error: Callable[[Path, str], None] = lambda path, msg: None
        self.on_notice: Notify = lambda kind, path, msg: None
        self.on_progress: Callable[[float], None] = lambda seconds: None
        self.on_start: Callable[[float], None] = lambda total_seconds: None
        self.on_saved: Callable[[Job, float], None] = lambda job, seconds: None
        self.report = EncodeReport()
        self.stamps: dict[Path, SourceStamp] = {}

    def _fail(self, path: Path, message: str) -> None:
        self.report.failures.append((path, message))
        self.on_error(path, message)

    def run(self, jobs: Sequence[Job]) -> EncodeReport:
        self.report = EncodeReport()
        start = time.perf_counter()
        short, long = self._plan(jobs)
        self.on_start(sum(info.duration for _, info in short + long))
        for job, info in long:
            self._encode_long(job, info)
        batches = self._batches(short)
        for batch, loaded in zip(batches, self._load(batches)):
            self._encode_batch(batch, loaded)
        self.report.wall_seconds = time.perf_counter() - start
        return self.report

    # -- planning
    def _plan(self, jobs: Sequence[Job]) -> tuple[list[tuple[Job, AudioInfo]], ...]:
        short: list[tuple[Job, AudioInfo]] = []
        long: list[tuple[Job, AudioInfo]] = []
        for job in jobs:
            # Stamped before reading: a file changed while encoding stays out of date. (A
            # spooled stream has no identity to keep; audio_info reports unreadable files.)
            if self.stamp_sources:
                with suppress(OSError):
                    self.stamps[job.output] = SourceStamp.of(job.source)
            stamp = self.stamps.get(job.output)
            # An unreadable input is reported as such by audio_info, not as a stale output.
            if job.output.exists() and not self.force and (stamp or not self.stamp_sources):
                problem = output_problem(job.output, self.codec, self.num_codebooks, stamp)
                if problem is None:
                    self.report.skipped += 1
                else:
                    self._fail(job.output, f"{problem} (use --force to overwrite)")
                continue
            try:
                info = audio_info(job.source)
            except AudioError as exc:
                self._fail(job.source, one_line(exc, job.source))
                continue
            problem = "empty audio (0 samples)" if info.frames == 0 else wav_truncation(job.source)
            if problem:
                self._fail(job.source, problem)
                continue
            self._notice_format(job.source, info)
            (long if info.duration > self.stream_above else short).append((job, info))
        short.sort(key=lambda item: (item[1].duration, str(item[0].source)))
        return short, long

    def _notice_format(self, path: Path, info: AudioInfo) -> None:
        for kind, message in conversion_notices(info, self.codec.sample_rate, self.codec.channels):
            self.on_notice(kind, path, message)

    def _batches(self, short: list[tuple[Job, AudioInfo]]) -> list[list[Job]]:
        """Consecutive runs of similar length, at most ``batch_size`` items and about
        ``batch_seconds`` of padded audio each."""
        batches: list[list[Job]] = []
        current: list[Job] = []
        for job, info in short:
            padded = info.duration * (len(current) + 1)
            if current and (len(current) >= self.batch_size or padded > self.batch_seconds):
                batches.append(current)
                current = []
            current.append(job)
        if current:
            batches.append(current)
        return batches

    def _load(self, batches: list[list[Job]]) -> Iterator[list[Loaded]]:
        paths = [[job.source for job in batch] for batch in batches]
        data = _BatchSet(paths, self.codec.sample_rate, self.codec.channels)
        if self.workers == 0:
            yield from (data[i] for i in range(len(data)))
            return
        yield from DataLoader(
            data,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            collate_fn=_identity,
            worker_init_fn=_one_thread,
            prefetch_factor=2,
        )

    # -- encoding
    def _encode_batch(self, batch: list[Job], loaded: list[Loaded]) -> None:
        ready: list[tuple[Job, Tensor]] = []
        for job, item in zip(batch, loaded):
            if item.wav is None:
                self._fail(job.source, item.error or "cannot load")
            elif item.wav.shape[-1] < self.codec.hop_length:
                self._fail(
                    job.source,
                    f"too short: {item.wav.shape[-1]} samples at {self.codec.sample_rate} Hz, "
                    f"one frame needs {self.codec.hop_length}",
                )
            else:
                self._notice_level(job.source, item)
                ready.append((job, item.wav))
        if not ready:
            return
        try:
            tokens = self._encode([wav for _, wav in ready])
        except USER_ERRORS as exc:
            if len(ready) == 1:
                self._fail(ready[0][0].source, one_line(exc, ready[0][0].source))
                return
            for job, wav in ready:  # isolate the bad item
                self._encode_batch([job], [Loaded(wav)])
            return
        for i, (job, wav) in enumerate(ready):
            self._save(job, tokens.item(i), wav.shape[-1] / self.codec.sample_rate)

    def _encode(self, wavs: list[Tensor]) -> Tokens:
        return self.codec.encode_many(wavs, self.num_codebooks)

    def _notice_level(self, path: Path, item: Loaded) -> None:
        if item.peak > 1.0:
            db = 20 * np.log10(item.peak)
            self.on_notice("over", path, f"peaks at {db:+.1f} dBFS (beyond full scale), kept as is")
        elif item.full_scale > 1e-3:
            pct = 100 * item.full_scale
            self.on_notice("clip", path, f"{pct:.1f}% of samples at full scale (clipped input)")

    def _save(self, job: Job, tokens: Tokens, seconds: float, counted: bool = False) -> None:
        """Write the tokens; ``counted``: the progress already moved by ``seconds``."""
        tokens = replace(tokens, source=self.stamps.get(job.output))
        try:
            tokens.save(job.output, force=self.force)
        except USER_ERRORS as exc:
            self._fail(job.output, one_line(exc, job.output))
            return
        self.report.encoded += 1
        self.report.audio_seconds += seconds
        self.on_saved(job, seconds)
        if not counted:
            self.on_progress(seconds)

    def _encode_long(self, job: Job, info: AudioInfo) -> None:
        if not self.codec.config.seanet.causal:
            self._fail(
                job.source,
                f"too long for a non-causal model ({info.duration:.0f} s > {self.stream_above:g} s"
                " limit); split the file, use a causal model or raise --stream-above",
            )
            return
        try:
            tokens = encode_blocks(
                self.codec,
                job.source,
                info,
                self.num_codebooks,
                self.block_seconds,
                on_block=self.on_progress,  # a long file moves the progress as it goes
            )
        except USER_ERRORS as exc:
            self._fail(job.source, one_line(exc, job.source))
            return
        self._save(job, tokens, info.duration, counted=True)
