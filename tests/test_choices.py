"""The torch-free choice lists (codec/choices.py) name exactly what the implementations take."""

from __future__ import annotations

import subprocess
import sys

from codec import choices
from codec.data import datasets
from codec.discriminators import DISCRIMINATORS
from codec.losses import adversarial_g_loss


def test_discriminator_names_are_the_registry() -> None:
    assert sorted(choices.DISCRIMINATOR_NAMES) == sorted(DISCRIMINATORS)


def test_adversarial_and_normalize_kinds() -> None:
    import torch

    for kind in choices.ADVERSARIAL_KINDS:
        adversarial_g_loss([torch.zeros(1, 4)], kind)
    assert datasets.Normalize is choices.Normalize
    assert choices.NORMALIZE_KINDS == ("none", "peak", "loudness")


def test_the_schemas_load_without_torch() -> None:
    code = (
        "import sys, codec.config, codec.choices, codec.quantize.config;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
