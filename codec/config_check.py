"""Load-time checks of model config values: the type each dataclass field declares (``int``,
``float``, ``bool``, ``str``, ``tuple[int, ...]``, ``X | None``) and the ranges in
:data:`RANGES`, each failure one line naming the full config key."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, NamedTuple

__all__ = ["RANGES", "Range", "check_field", "type_text"]


class Range(NamedTuple):
    """Allowed values ``low <= v`` (``low < v`` when ``open_low``) and ``v <= high``
    (``v < high`` when ``open_high``); ``None`` bounds are unchecked."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.open_low else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.open_high else '<='} {self.high:g}")
        return " and ".join(parts)


AT_LEAST_1 = Range(1)
AT_LEAST_0 = Range(0)
FRACTION = Range(0, 1, open_high=True)

RANGES: dict[str, Range] = {
    "sample_rate": AT_LEAST_1,
    **{
        f"seanet.{k}": AT_LEAST_1
        for k in (
            "channels",
            "dimension",
            "n_filters",
            "ratios",
            "kernel_size",
            "last_kernel_size",
            "residual_kernel_size",
            "dilation_base",
            "compress",
        )
    },
    "seanet.n_residual_layers": AT_LEAST_0,
    "seanet.lstm_layers": AT_LEAST_0,
    "seanet.trim_right_ratio": Range(0, 1),
    **{
        f"hifigan.{k}": AT_LEAST_1
        for k in (
            "channels",
            "dimension",
            "encoder_filters",
            "decoder_filters",
            "ratios",
            "kernel_sizes",
            "resblock_kernel_sizes",
            "resblock_dilations",
            "norm_group_size",
        )
    },
    "quantizer.groups": AT_LEAST_1,
    "quantizer.num_levels": AT_LEAST_1,
    "quantizer.codebook_size": Range(2),
    "quantizer.dropout_rate": FRACTION,
    "quantizer.fsq_levels": Range(2),
    "quantizer.codebook.codebook_dim": AT_LEAST_1,
    "quantizer.codebook.decay": FRACTION,
    "quantizer.codebook.epsilon": AT_LEAST_0,
    "quantizer.codebook.kmeans_iters": AT_LEAST_0,
    "quantizer.codebook.dead_window": AT_LEAST_0,
    "quantizer.bypass.steps": AT_LEAST_0,
    "quantizer.bypass.rate": FRACTION,
    "quantizer.bypass.refit_vectors": AT_LEAST_1,
    **{
        f"{block}.{k}": AT_LEAST_1
        for block in ("vocos", "spectral")
        for k in ("dim", "intermediate_dim", "num_blocks", "kernel_size", "n_fft")
    },
    "vocos.layer_scale_init": Range(0, open_low=True),
    "spectral.layer_scale_init": Range(0, open_low=True),
}
"""Allowed values of numeric keys (every element, for lists); keys are dotted from the top of
a :class:`~codec.config.CodecConfig`."""


def type_text(hint: Any) -> str:
    """How an error message names the type ``hint``: ``an integer``, ``a list of integers``..."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(type_text(a) if a is not type(None) else "null" for a in args)
    if typing.get_origin(hint) is tuple:
        return "a list of integers"
    names = {bool: "true/false", int: "an integer", float: "a finite number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_field(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` declares (ints become floats for ``float``, lists become
    tuples) and within ``RANGES[key]``; else a one-line ``ValueError`` naming ``key``."""
    converted = _convert(value, hint)
    if converted is _WRONG:
        raise ValueError(f"config key '{key}' must be {type_text(hint)}, got {value!r}")
    bounds = RANGES.get(key)
    if bounds is not None and converted is not None:
        items = converted if isinstance(converted, tuple) else (converted,)
        bad = [v for v in items if not bounds.holds(v)]
        if bad:
            raise ValueError(f"config key '{key}' must be {bounds.text()}, got {value!r}")
    return converted


_WRONG = object()


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as ``hint``, or ``_WRONG``."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        if value is None and type(None) in typing.get_args(hint):
            return None
        for arg in typing.get_args(hint):
            if arg is not type(None) and (done := _convert(value, arg)) is not _WRONG:
                return done
        return _WRONG
    if typing.get_origin(hint) is tuple:
        (item, *_) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            return _WRONG
        items = [_convert(v, item) for v in value]
        return _WRONG if any(v is _WRONG for v in items) else tuple(items)
    if hint is bool:
        return value if isinstance(value, bool) else _WRONG
    if isinstance(value, bool):  # bool is an int subclass: never a number here
        return _WRONG
    if hint is int:
        return value if isinstance(value, int) else _WRONG
    if hint is float:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        return float(value) if ok else _WRONG
    if hint is str:
        return value if isinstance(value, str) else _WRONG
    raise TypeError(f"config field type {hint!r} has no check")  # a schema bug, not user input
