"""Signal metrics: SI-SDR, mel and multi-resolution STFT distances, PESQ and STOI/ESTOI.

PESQ and STOI need the optional ``pesq`` / ``pystoi`` packages (``pip install 'speech-token-codec[eval]'``);
they are imported only when called and raise :class:`MetricUnavailableError` when missing.
Codebook metrics (usage, entropy, perplexity) live with the quantizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from codec.errors import install_hint
from codec.inputs import mono_batch
from codec.losses import (
    DEFAULT_MEL_BINS,
    DEFAULT_MEL_WINDOWS,
    DEFAULT_STFT_RESOLUTIONS,
    multi_resolution_stft_loss,
    multiscale_mel_loss,
    sample_mask,
)

PesqMode = Literal["wb", "nb"]
PESQ_RATES: dict[str, int] = {"wb": 16000, "nb": 8000}


class MetricUnavailableError(ImportError):
    """An optional metric package (``pesq``, ``pystoi``) is not installed."""


class NoUtteranceError(ValueError):
    """PESQ found no utterance in the reference (silence or too short); the score is undefined."""


def _optional(name: Literal["pesq", "pystoi"]) -> ModuleType:
    """The optional metric package ``name``, imported on first use (explicitly: no importlib)."""
    try:
        if name == "pesq":
            import pesq

            return pesq
        import pystoi

        return pystoi
    except ImportError as err:
        raise MetricUnavailableError(
            f"metric needs the '{name}' package: pip install {name} (or {install_hint('eval')})"
        ) from err


def si_sdr(
    estimate: Tensor,
    reference: Tensor,
    lengths: Tensor | None = None,
    zero_mean: bool = True,
    eps: float = 1e-8,
) -> Tensor:
    """Scale-invariant signal-to-distortion ratio in dB, per item.

    Args:
        estimate, reference: ``[B, 1, T]`` or ``[B, T]``.
        lengths: ``[B]`` valid samples; the rest is ignored.
        zero_mean: remove each item's mean (over its valid samples) first.
    Returns:
        ``[B]`` SI-SDR in dB.
    """
    est, ref = mono_batch(estimate).double(), mono_batch(reference).double()
    if est.shape != ref.shape:
        raise ValueError(f"shapes differ: {tuple(est.shape)} vs {tuple(ref.shape)}")
    if lengths is None:
        mask = torch.ones_like(est)
    else:
        mask = sample_mask(lengths.to(est.device), est.shape[-1]).double()
    count = mask.sum(-1, keepdim=True).clamp_min(1.0)
    if zero_mean:
        est = est - (est * mask).sum(-1, keepdim=True) / count
        ref = ref - (ref * mask).sum(-1, keepdim=True) / count
    est, ref = est * mask, ref * mask
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.square().sum(-1, keepdim=True) + eps)
    target = alpha * ref
    noise = est - target
    ratio = (target.square().sum(-1) + eps) / (noise.square().sum(-1) + eps)
    return (10 * torch.log10(ratio)).to(estimate.dtype)


@torch.no_grad()
def mel_distance(
    estimate: Tensor,
    reference: Tensor,
    sample_rate: int,
    lengths: Tensor | None = None,
    windows: Sequence[int] = DEFAULT_MEL_WINDOWS,
    n_mels: Sequence[int] = DEFAULT_MEL_BINS,
) -> Tensor:
    """Multi-scale log-mel L1 distance (:func:`codec.losses.multiscale_mel_loss`) of
    ``[B, 1, T]`` batches, over all valid frames; a detached scalar tensor."""
    return multiscale_mel_loss(estimate, reference, sample_rate, lengths, windows, n_mels)


@torch.no_grad()
def stft_distance(
    estimate: Tensor,
    reference: Tensor,
    lengths: Tensor | None = None,
    resolutions: Sequence[tuple[int, int]] = DEFAULT_STFT_RESOLUTIONS,
) -> Tensor:
    """Multi-resolution STFT distance (:func:`codec.losses.multi_resolution_stft_loss`) of
    ``[B, 1, T]`` batches; a detached scalar tensor."""
    return multi_resolution_stft_loss(estimate, reference, lengths, resolutions)


def _to_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, "float64")
    arr = np.squeeze(arr)
    if arr.ndim != 1:
        raise ValueError(f"expected one mono signal [T] (or [1, T]), got shape {arr.shape}")
    return arr


def _resample(x: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    if sample_rate == target:
        return x
    import soxr

    return np.asarray(soxr.resample(x, sample_rate, target, quality="HQ"), dtype=np.float64)


def pesq(
    estimate: Tensor | np.ndarray,
    reference: Tensor | np.ndarray,
    sample_rate: int,
    mode: PesqMode = "wb",
    strict: bool = False,
) -> float | None:
    """PESQ (ITU-T P.862) of one mono signal ``[T]``, after resampling both signals to 16 kHz
    (``wb``) or 8 kHz (``nb``).

    Returns:
        the MOS-LQO score, or ``None`` when PESQ detects no utterance in the reference.
    Raises:
        NoUtteranceError: instead of returning ``None`` when ``strict``.
        MetricUnavailableError: if the ``pesq`` package is missing.
    """
    if mode not in PESQ_RATES:
        raise ValueError(f"PESQ mode must be 'wb' or 'nb', got {mode!r}")
    lib = _optional("pesq")
    rate = PESQ_RATES[mode]
    ref = _resample(_to_numpy(reference), sample_rate, rate)
    est = _resample(_to_numpy(estimate), sample_rate, rate)
    n = min(len(ref), len(est))
    try:
        if not np.any(ref[:n]):  # silence: PESQ would divide by zero, then find no utterance
            raise lib.NoUtterancesError("silent reference")
        return float(lib.pesq(rate, ref[:n], est[:n], mode))
    except lib.NoUtterancesError as err:
        if strict:
            raise NoUtteranceError("PESQ found no utterance in the reference") from err
        return None


def stoi(
    estimate: Tensor | np.ndarray,
    reference: Tensor | np.ndarray,
    sample_rate: int,
    extended: bool = False,
) -> float:
    """STOI (or ESTOI with ``extended``) of one mono signal ``[T]``; pystoi resamples to 10 kHz.

    Raises:
        MetricUnavailableError: if the ``pystoi`` package is missing.
    """
    lib = _optional("pystoi")
    ref, est = _to_numpy(reference), _to_numpy(estimate)
    n = min(len(ref), len(est))
    return float(lib.stoi(ref[:n], est[:n], sample_rate, extended=extended))


def _items(
    estimate: Tensor, reference: Tensor, lengths: Tensor | None
) -> list[tuple[Tensor, Tensor]]:
    est, ref = mono_batch(estimate), mono_batch(reference)
    sizes = [est.shape[-1]] * est.shape[0] if lengths is None else lengths.tolist()
    return [(est[i, : int(n)], ref[i, : int(n)]) for i, n in enumerate(sizes)]


def pesq_batch(
    estimate: Tensor,
    reference: Tensor,
    sample_rate: int,
    lengths: Tensor | None = None,
    mode: PesqMode = "wb",
) -> list[float | None]:
    """:func:`pesq` per item of ``[B, 1, T]`` batches, trimmed to ``lengths``."""
    return [pesq(e, r, sample_rate, mode) for e, r in _items(estimate, reference, lengths)]


def stoi_batch(
    estimate: Tensor,
    reference: Tensor,
    sample_rate: int,
    lengths: Tensor | None = None,
    extended: bool = False,
) -> list[float]:
    """:func:`stoi` per item of ``[B, 1, T]`` batches, trimmed to ``lengths``."""
    return [stoi(e, r, sample_rate, extended) for e, r in _items(estimate, reference, lengths)]
