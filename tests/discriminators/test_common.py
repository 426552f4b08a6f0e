from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.discriminators.common import normed
from tests.discriminators.conftest import Small, T


def test_rejects_bad_input_shape(small: Small) -> None:
    disc = small["msd"][0]
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        disc(torch.randn(2, T))
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        disc(torch.randn(2, 2, T))


def test_normed_rejects_unknown_norm() -> None:
    with pytest.raises(ValueError, match="unknown norm"):
        normed(nn.Conv1d(1, 1, 3), "batch_norm")  # type: ignore[arg-type]
