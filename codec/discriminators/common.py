"""Parts shared by every discriminator: the output type, norms, input check, conv stacks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

__all__ = [
    "ConvStackDiscriminator",
    "DiscriminatorGroup",
    "DiscriminatorOutput",
    "NormKind",
    "check_waveform",
    "normed",
]

NormKind = Literal["weight_norm", "spectral_norm", "none"]


@dataclass
class DiscriminatorOutput:
    """Result of a discriminator on a batch.

    Attributes:
        logits: one tensor per sub-discriminator (shapes differ, batch first).
        features: per sub-discriminator, its feature maps in layer order.
        names: one label per sub-discriminator (e.g. ``"mpd/p2"``), for logging.
    """

    logits: list[Tensor]
    features: list[list[Tensor]]
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.logits)


def normed(module: nn.Module, norm: NormKind) -> nn.Module:
    """``module`` with weight or spectral norm applied (parametrizations), or as is."""
    if norm == "weight_norm":
        return parametrizations.weight_norm(module)
    if norm == "spectral_norm":
        return parametrizations.spectral_norm(module)
    if norm == "none":
        return module
    raise ValueError(f"unknown norm {norm!r}; expected weight_norm, spectral_norm or none")


def check_waveform(x: Tensor) -> Tensor:
    """``x`` itself if it is a waveform ``[B, 1, T]``; a clear ``ValueError`` otherwise."""
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"discriminators expect a waveform [B, 1, T], got {tuple(x.shape)}")
    return x


class ConvStackDiscriminator(nn.Module):
    """One sub-discriminator: a conv stack with leaky ReLU between layers, then ``post``.

    Subclasses build the layers (registered as ``convs`` and ``post``, the state-dict names)
    and implement :meth:`prepare`, which turns the waveform into the first conv's input.
    """

    def __init__(self, convs: Sequence[nn.Module], post: nn.Module, slope: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.post = post
        self.slope = slope

    def prepare(self, x: Tensor) -> Tensor:
        """Waveform ``[B, 1, T]`` -> input of the first conv."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits (``post``'s output) and the feature map of every conv.

        The logits are not repeated among the features.
        """
        z = self.prepare(x)
        feats: list[Tensor] = []
        for conv in self.convs:
            z = F.leaky_relu(conv(z), self.slope)
            feats.append(z)
        return self.post(z), feats


class DiscriminatorGroup(nn.Module):
    """A list of sub-discriminators returning ``(logits, features)`` each, named for logging."""

    def __init__(self, discs: Sequence[nn.Module], names: Sequence[str]) -> None:
        super().__init__()
        self.discs = nn.ModuleList(discs)
        self.names = list(names)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``[B, 1, T]`` -> :class:`DiscriminatorOutput` with one entry per sub-discriminator."""
        x = check_waveform(x)
        logits, feats = [], []
        for disc in self.discs:
            logit, feat = disc(x)
            logits.append(logit)
            feats.append(feat)
        return DiscriminatorOutput(logits, feats, list(self.names))
