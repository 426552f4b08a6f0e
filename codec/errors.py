"""User-facing errors: which exceptions mean "this input failed", and their one-line text."""

from __future__ import annotations

import os

__all__ = ["DISTRIBUTION", "USER_ERRORS", "install_hint", "one_line"]

DISTRIBUTION = "speech-token-codec"
"""The name to ``pip install`` (the import name is ``codec``, taken on PyPI by another project)."""

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RuntimeError)
"""Exception types that mean 'this file failed' (AudioError/TokensFormatError are ValueErrors)."""


def install_hint(extra: str) -> str:
    """The command that installs the optional dependencies of ``extra``, for error messages."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def one_line(exc: BaseException, path: str | os.PathLike[str] | None = None) -> str:
    """The first line of ``exc``'s message (its type name when it has none).

    OS errors give their ``strerror``, prefixed with their file name unless ``path`` is given.
    With ``path``, a leading copy of it is dropped: the caller prints the path itself.
    """
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
        if path is None and exc.filename:
            text = f"{exc.filename}: {text}"
    else:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    if path is not None:
        for prefix in (f"{path}: ", f"{path} "):
            if text.startswith(prefix):
                text = text[len(prefix) :]
    return text
