"""Errors the training run reports as one ``error:`` line (kept free of Lightning, so the
light entry module :mod:`codec.lightning.run` can catch them without importing it)."""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """Training produced non-finite losses or gradients too many steps in a row."""
