"""GAN discriminators behind one interface: MS-STFT, MPD, MSD and MRD.

Every discriminator takes a waveform ``[B, 1, T]`` and returns a :class:`DiscriminatorOutput`
holding, for each of its sub-discriminators, one logits tensor and the list of its
intermediate feature maps (for feature matching), plus a name per sub-discriminator for
logging. :class:`MultiDiscriminator` concatenates any set of them, and
:func:`build_discriminator` builds one from registry names.

Modules: ``common`` (output type, norms, conv stacks), ``stft`` (MS-STFT, MRD), ``mpd``, ``msd``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from codec.discriminators.common import DiscriminatorOutput, NormKind, check_waveform
from codec.discriminators.mpd import MultiPeriodDiscriminator, PeriodDiscriminator, hifigan_mpd
from codec.discriminators.msd import MultiScaleDiscriminator, ScaleDiscriminator, hifigan_msd
from codec.discriminators.stft import (
    DAC_BANDS,
    MultiResolutionDiscriminator,
    MultiScaleSTFTDiscriminator,
    ResolutionDiscriminator,
    STFTDiscriminator,
)

__all__ = [
    "DAC_BANDS",
    "DISCRIMINATORS",
    "DiscriminatorOutput",
    "MultiDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiScaleDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "NormKind",
    "PeriodDiscriminator",
    "ResolutionDiscriminator",
    "STFTDiscriminator",
    "ScaleDiscriminator",
    "build_discriminator",
    "hifigan_mpd",
    "hifigan_msd",
]


class MultiDiscriminator(nn.Module):
    """Runs several discriminators and concatenates their outputs.

    Names in the output are ``"<key>/<sub>"`` (e.g. ``"mpd/p2"``, ``"msstft/n1024"``).
    """

    def __init__(self, discs: dict[str, nn.Module]) -> None:
        super().__init__()
        self.discs = nn.ModuleDict(discs)

    @property
    def names(self) -> list[str]:
        """One label per sub-discriminator, in output order."""
        return [f"{key}/{sub}" for key, disc in self.discs.items() for sub in _sub_names(disc)]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``[B, 1, T]`` -> concatenated :class:`DiscriminatorOutput`."""
        x = check_waveform(x)
        out = DiscriminatorOutput([], [], [])
        for key, disc in self.discs.items():
            sub: DiscriminatorOutput = disc(x)
            out.logits.extend(sub.logits)
            out.features.extend(sub.features)
            out.names.extend(f"{key}/{name}" for name in sub.names)
        return out


def _sub_names(disc: nn.Module) -> list[str]:
    names = getattr(disc, "names", None)
    return [str(n) for n in names] if isinstance(names, list) else ["0"]


DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "msstft": MultiScaleSTFTDiscriminator,
    "mpd": MultiPeriodDiscriminator,
    "msd": MultiScaleDiscriminator,
    "mrd": MultiResolutionDiscriminator,
    # HiFi-GAN's published widths (and MSD norms), for the faithful HiFi-Codec recipe
    "hifigan_mpd": hifigan_mpd,
    "hifigan_msd": hifigan_msd,
}


def build_discriminator(
    names: list[str] | tuple[str, ...], filters: int | None = None, **sizes: Any
) -> MultiDiscriminator:
    """Build a :class:`MultiDiscriminator` from registry names (see :data:`DISCRIMINATORS`).

    Args:
        names: keys of :data:`DISCRIMINATORS`, e.g. ``["mpd", "msstft"]``; may be empty.
        filters: base channel count applied to every discriminator (unless overridden).
        sizes: per-name keyword arguments, e.g. ``mpd={"periods": (2, 3)}``.

    Raises:
        ValueError: on an unknown or repeated name, or ``sizes`` for a name not requested.
    """
    unknown = [n for n in names if n not in DISCRIMINATORS]
    if unknown:
        raise ValueError(
            f"unknown discriminator(s) {unknown}; available: {', '.join(sorted(DISCRIMINATORS))}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"discriminator names must be unique, got {list(names)}")
    stray = sorted(set(sizes) - set(names))
    if stray:
        raise ValueError(f"sizes given for discriminator(s) not requested: {stray}")
    discs: dict[str, nn.Module] = {}
    for name in names:
        kwargs = dict(sizes.get(name) or {})
        if filters is not None:
            kwargs.setdefault("filters", filters)
        discs[name] = DISCRIMINATORS[name](**kwargs)
    return MultiDiscriminator(discs)
