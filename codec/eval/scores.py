"""Per-utterance scores: the metrics of :mod:`codec.metrics` on one mono utterance, with the
estimate aligned to the reference and failures reported instead of raised."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from codec import metrics as M
from codec.errors import one_line

__all__ = ["DEFAULT_METRICS", "HIGHER_IS_BETTER", "METRICS", "align", "utterance_metrics"]

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


def align(estimate: Tensor, length: int) -> Tensor:
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


def _score(name: str, est: Tensor, ref: Tensor, sample_rate: int) -> float | str:
    """The score of ``name``, or the reason it could not be computed."""
    try:
        value = _metric(name, est, ref, sample_rate)
    except M.MetricUnavailableError as err:
        return str(err)
    except ValueError as err:
        if name not in METRICS:
            raise
        return f"error: {one_line(err)}"
    except Exception as err:  # a metric library failing on one file must not stop the run
        return f"error: {type(err).__name__}: {one_line(err)}"
    if value is None:
        return "no utterance detected (PESQ)"
    if not math.isfinite(value):
        return "non-finite score"
    return value


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
    est = align(estimate.detach().float().cpu().reshape(-1), ref.shape[-1])
    scores: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name in metrics:
        result = _score(name, est, ref, sample_rate)
        if isinstance(result, str):
            skipped[name] = result
        else:
            scores[name] = result
    return scores, skipped
