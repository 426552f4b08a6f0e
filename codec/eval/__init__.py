"""Measure codecs the way papers do (``codec eval``).

Every system (a trained model at some number of codebooks, Opus, an 8 kHz telephone band, a
converted peer model) is run on the same utterances, at one evaluation sample rate, and scored
with the functions of :mod:`codec.metrics` (the ones training validation logs), so a training
curve and a report agree. Per utterance: PESQ wide- and narrow-band, STOI, ESTOI, SI-SDR, mel and
multi-resolution STFT distance. Per system: mean with a 95 % confidence interval, nominal and
measured bitrate (token / Ogg file bytes over duration), real-time factor of encode and decode,
and for codecs per-codebook usage and entropy over the set and token stability under
decode -> re-encode.

Modules: :mod:`~codec.eval.scores` (per-utterance metrics), :mod:`~codec.eval.statistics`
(intervals, summaries, codebook usage), :mod:`~codec.eval.systems` and
:mod:`~codec.eval.baselines` (what is measured), :mod:`~codec.eval.runner` (:func:`evaluate`),
:mod:`~codec.eval.report` and :mod:`~codec.eval.plots` (what is written).
"""

from codec.eval.baselines import (
    OpusSystem,
    ResampleSystem,
    SoundFileSystem,
    ogg_payload_bytes,
    opus_bitrate,
    opus_level,
    parse_baselines,
    parse_bitrate,
)
from codec.eval.plots import plot_report
from codec.eval.report import (
    REPORT_FILES,
    EvalReport,
    SystemResult,
    check_output_dir,
    render_markdown,
)
from codec.eval.runner import Utterance, collect_files, evaluate
from codec.eval.scores import DEFAULT_METRICS, HIGHER_IS_BETTER, METRICS, align, utterance_metrics
from codec.eval.statistics import codebook_stats, confidence_interval, summarize
from codec.eval.systems import (
    CodecSystem,
    System,
    SystemOutput,
    codec_systems,
    token_payload_bytes,
)

__all__ = [
    "DEFAULT_METRICS",
    "HIGHER_IS_BETTER",
    "METRICS",
    "REPORT_FILES",
    "CodecSystem",
    "EvalReport",
    "OpusSystem",
    "ResampleSystem",
    "SoundFileSystem",
    "System",
    "SystemOutput",
    "SystemResult",
    "Utterance",
    "align",
    "check_output_dir",
    "codebook_stats",
    "codec_systems",
    "collect_files",
    "confidence_interval",
    "evaluate",
    "ogg_payload_bytes",
    "opus_bitrate",
    "opus_level",
    "parse_baselines",
    "parse_bitrate",
    "plot_report",
    "render_markdown",
    "summarize",
    "token_payload_bytes",
    "utterance_metrics",
]
