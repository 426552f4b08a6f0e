"""Names a configuration may choose from, kept free of torch so that the training schema
(and with it ``train.py --help`` / ``--cfg job``) loads without importing the networks.

The modules that implement each choice check against these names (tests/test_choices.py).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ADVERSARIAL_KINDS",
    "DISCRIMINATOR_NAMES",
    "NORMALIZE_KINDS",
    "AdversarialKind",
    "Normalize",
    "PHASE_KINDS",
    "PhaseKind",
]

AdversarialKind = Literal["hinge", "lsgan"]
#: the adversarial loss kinds ``adversarial_g_loss`` / ``adversarial_d_loss`` accept
ADVERSARIAL_KINDS: tuple[str, ...] = get_args(AdversarialKind)

Normalize = Literal["none", "peak", "loudness"]
#: how training datasets scale each item
NORMALIZE_KINDS: tuple[str, ...] = get_args(Normalize)

PhaseKind = Literal["learned", "vocoder"]
#: how the Vocos-style decoder gets each frame's phase (``VocosConfig.phase``)
PHASE_KINDS: tuple[str, ...] = get_args(PhaseKind)

#: the keys of ``codec.discriminators.DISCRIMINATORS``
DISCRIMINATOR_NAMES: tuple[str, ...] = (
    "msstft",
    "mpd",
    "msd",
    "mrd",
    "hifigan_mpd",
    "hifigan_msd",
)
