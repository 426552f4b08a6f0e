"""Shared fixtures for the SEANet tests."""

from __future__ import annotations

from tests.nn.helpers import one_torch_thread

__all__ = ["one_torch_thread"]
