"""Pure token layouts for language models, each with an exact inverse.

Every function takes codes or vocabulary ids of one utterance shaped ``[K, T]`` (K code streams,
group-major as in :class:`~codec.tokens.Tokens`, T frames) or a flat sequence ``[L]``, and returns
a new ``torch.long`` tensor; inputs are never modified. Shapes and ranges are checked with a clear
``ValueError``.

- :func:`add_offsets` / :func:`remove_offsets`: code ``c`` of codebook ``k`` <-> id
  ``k * codebook_size + c + num_special`` (ids below ``num_special`` are special tokens).
- :func:`flatten` / :func:`unflatten`: ``order="frame"`` gives ``t0k0 t0k1 .. t1k0 ..``;
  ``order="codebook"`` gives ``k0t0 k0t1 .. k1t0 ..``. An optional frame separator id follows
  every frame (frame order only).
- :func:`delay` / :func:`undelay`: the MusicGen / Moshi delay pattern. Stream ``k`` is shifted
  right by ``delays[k]`` steps (default ``delays[k] = k``); the output is
  ``[K, T + max(delays)]`` and every position not holding a code is ``pad_id``.
- :func:`interleave_groups` / :func:`deinterleave_groups`: GRVQ group-major
  ``g0l0 g0l1 g1l0 g1l1`` <-> level-major ``g0l0 g1l0 g0l1 g1l1`` (coarse levels of all
  groups first).
- :func:`split_ar_nar` / :func:`merge_ar_nar`: VALL-E's split into the first stream (modelled
  autoregressively) and the remaining ``K - 1`` streams (modelled non-autoregressively).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ORDERS",
    "add_offsets",
    "as_long",
    "check_codes",
    "check_delays",
    "deinterleave_groups",
    "delay",
    "flatten",
    "interleave_groups",
    "merge_ar_nar",
    "remove_offsets",
    "split_ar_nar",
    "undelay",
    "unflatten",
]

ORDERS = ("frame", "codebook")


def as_long(x: Any, name: str = "codes", dim: int | None = 2) -> Tensor:
    """``x`` (tensor, numpy array or nested list of integers) as a CPU ``torch.long`` tensor
    with ``dim`` dimensions (any when None)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integers, got dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x).astype(np.int64, copy=False))
    elif not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got dtype {x.dtype}")
    if dim is not None and x.dim() != dim:
        shape = "[K, T]" if dim == 2 else "[L]" if dim == 1 else f"{dim} dimensions"
        raise ValueError(f"{name} must be {shape}, got shape {tuple(x.shape)}")
    return x.detach().to("cpu", torch.long)


def check_codes(codes: Any, codebook_size: int, num_codebooks: int | None = None) -> Tensor:
    """Validate codes ``[K, T]`` in ``[0, codebook_size)``; returns them as ``torch.long``."""
    codes = as_long(codes)
    if num_codebooks is not None and codes.shape[0] != num_codebooks:
        raise ValueError(
            f"expected {num_codebooks} codebooks, got codes of shape {tuple(codes.shape)}"
        )
    if codes.shape[0] < 1:
        raise ValueError("codes need at least one codebook (K >= 1)")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        bad = codes[(codes < 0) | (codes >= codebook_size)][0]
        raise ValueError(f"code {int(bad)} out of range [0, {codebook_size})")
    return codes


def _positive(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


# ------------------------------------------------------------------ vocabulary offsets
def add_offsets(codes: Any, codebook_size: int, num_special: int = 0) -> Tensor:
    """Codes ``[K, T]`` -> ids ``[K, T]``: ``id = k * codebook_size + c + num_special``."""
    _positive("codebook_size", codebook_size)
    _positive("num_special", num_special, 0)
    codes = check_codes(codes, codebook_size)
    offsets = torch.arange(codes.shape[0], dtype=torch.long) * codebook_size + num_special
    return codes + offsets[:, None]


def remove_offsets(ids: Any, codebook_size: int, num_special: int = 0) -> Tensor:
    """Inverse of :func:`add_offsets`; an id outside stream ``k``'s range is a ``ValueError``."""
    _positive("codebook_size", codebook_size)
    ids = as_long(ids, "ids")
    offsets = torch.arange(ids.shape[0], dtype=torch.long) * codebook_size + num_special
    codes = ids - offsets[:, None]
    bad = (codes < 0) | (codes >= codebook_size)
    if bool(bad.any()):
        k, t = (int(v) for v in bad.nonzero()[0])
        lo = int(offsets[k])
        raise ValueError(
            f"id {int(ids[k, t])} at codebook {k}, frame {t} is not a code of that codebook "
            f"(valid ids [{lo}, {lo + codebook_size}))"
        )
    return codes


# ------------------------------------------------------------------ flatten
def flatten(x: Any, order: str = "frame", sep_id: int | None = None) -> Tensor:
    """``[K, T]`` -> ``[K * T]`` (plus ``T`` separators when ``sep_id`` is given).

    ``order="frame"``: ``t0k0 t0k1 .. t0k{K-1} [sep] t1k0 ..``; ``order="codebook"``:
    ``k0t0 k0t1 .. k1t0 ..`` (no separators).
    """
    x = as_long(x, "ids")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if order == "codebook":
        if sep_id is not None:
            raise ValueError("a frame separator needs order='frame'")
        return x.reshape(-1).clone()
    frames = x.t()
    if sep_id is not None:
        frames = torch.cat([frames, torch.full((frames.shape[0], 1), sep_id)], dim=1)
    return frames.reshape(-1).clone()


def unflatten(
    seq: Any, num_codebooks: int, order: str = "frame", sep_id: int | None = None
) -> Tensor:
    """Inverse of :func:`flatten`: ``[L]`` -> ``[K, T]``."""
    _positive("num_codebooks", num_codebooks)
    seq = as_long(seq, "sequence", dim=1)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if order == "codebook" and sep_id is not None:
        raise ValueError("a frame separator needs order='frame'")
    step = num_codebooks + (sep_id is not None)
    if seq.numel() % step:
        raise ValueError(
            f"sequence length {seq.numel()} is not a multiple of {step} "
            f"({num_codebooks} codebooks{' + separator' if sep_id is not None else ''})"
        )
    if order == "codebook":
        return seq.reshape(num_codebooks, -1).clone()
    frames = seq.reshape(-1, step)
    if sep_id is not None:
        if bool((frames[:, -1] != sep_id).any()):
            raise ValueError(f"frame separator {sep_id} missing after a frame")
        frames = frames[:, :-1]
    return frames.t().contiguous()


# ------------------------------------------------------------------ delay pattern
def check_delays(num_codebooks: int, delays: Sequence[int] | None) -> list[int]:
    """Per-codebook delays, validated; ``None`` means MusicGen's ``0, 1, ..., K-1``."""
    if delays is None:
        return list(range(num_codebooks))
    out = [int(d) for d in delays]
    if len(out) != num_codebooks or any(d < 0 for d in out):
        raise ValueError(
            f"delays must be {num_codebooks} non-negative integers (one per codebook), got {list(delays)}"
        )
    return out


def delay(x: Any, pad_id: int, delays: Sequence[int] | None = None) -> Tensor:
    """Delay pattern: ``[K, T]`` -> ``[K, T + max(delays)]``, ``out[k, t + delays[k]] = x[k, t]``.

    Positions before and after each shifted stream hold ``pad_id``. At step ``s`` an LM thus
    predicts codebook ``k`` of frame ``s - delays[k]``, conditioned on coarser codebooks of the
    same frame already emitted (MusicGen; Moshi uses ``delays = [0, 1, 1, ..]``).
    """
    x = as_long(x, "ids")
    shifts = check_delays(x.shape[0], delays)
    k, t = x.shape
    out = torch.full((k, t + max(shifts)), pad_id, dtype=torch.long)
    for i, d in enumerate(shifts):
        out[i, d : d + t] = x[i]
    return out


def undelay(x: Any, delays: Sequence[int] | None = None, pad_id: int | None = None) -> Tensor:
    """Inverse of :func:`delay`: ``[K, L]`` -> ``[K, L - max(delays)]``.

    With ``pad_id`` given, the removed positions must all equal it (strict inverse); without it
    they are ignored (e.g. for sampled sequences).
    """
    x = as_long(x, "ids")
    shifts = check_delays(x.shape[0], delays)
    t = x.shape[1] - max(shifts)
    if t < 0:
        raise ValueError(
            f"a delayed sequence with delays up to {max(shifts)} needs at least {max(shifts)} "
            f"steps, got {x.shape[1]}"
        )
    out = torch.stack([x[i, d : d + t] for i, d in enumerate(shifts)])
    if pad_id is not None:
        keep = torch.zeros_like(x, dtype=torch.bool)
        for i, d in enumerate(shifts):
            keep[i, d : d + t] = True
        if bool((x[~keep] != pad_id).any()):
            raise ValueError(f"delayed sequence has non-PAD ids where PAD ({pad_id}) is expected")
    return out


# ------------------------------------------------------------------ GRVQ groups
def _group_perm(num_codebooks: int, groups: int) -> Tensor:
    _positive("groups", groups)
    if num_codebooks % groups:
        raise ValueError(f"{num_codebooks} codebooks cannot be split into {groups} groups")
    levels = num_codebooks // groups
    # position j of the level-major order holds group-major stream perm[j]
    return torch.arange(num_codebooks).reshape(groups, levels).t().reshape(-1)


def interleave_groups(x: Any, groups: int) -> Tensor:
    """Group-major ``[K, T]`` (``g0l0 g0l1 .. g1l0 ..``) -> level-major (``g0l0 g1l0 .. g0l1 ..``)."""
    x = as_long(x, "ids")
    return x[_group_perm(x.shape[0], groups)].clone()


def deinterleave_groups(x: Any, groups: int) -> Tensor:
    """Inverse of :func:`interleave_groups`: level-major ``[K, T]`` -> group-major."""
    x = as_long(x, "ids")
    perm = _group_perm(x.shape[0], groups)
    return x[torch.argsort(perm)].clone()


# ------------------------------------------------------------------ VALL-E split
def split_ar_nar(x: Any) -> tuple[Tensor, Tensor]:
    """``[K, T]`` -> ``(ar [T], nar [K - 1, T])``: the first stream and the rest."""
    x = as_long(x, "ids")
    return x[0].clone(), x[1:].clone()


def merge_ar_nar(ar: Any, nar: Any) -> Tensor:
    """Inverse of :func:`split_ar_nar`: ``ar [T]`` and ``nar [K - 1, T]`` -> ``[K, T]``."""
    ar = as_long(ar, "ar", dim=1)
    nar = as_long(nar, "nar", dim=2)
    if nar.shape[1] != ar.shape[0]:
        raise ValueError(
            f"ar has {ar.shape[0]} frames but nar has {nar.shape[1]} (shape {tuple(nar.shape)})"
        )
    return torch.cat([ar[None], nar], dim=0)
