"""Shared fixtures for the streaming-layer tests."""

from __future__ import annotations

from tests.nn.helpers import one_torch_thread

__all__ = ["one_torch_thread"]
