"""GroupedResidualVQ: channels split into groups, one ResidualVQ each (HiFi-Codec's GRVQ)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codec.quantize.base import QuantizerBase, RunResult, StepPlan
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig, CodebookConfig
from codec.quantize.rvq import ResidualVQ


class GroupedResidualVQ(QuantizerBase):
    """``groups`` residual VQs on equal channel slices of ``x`` [B, dim, T].

    Codes are [B, groups * num_levels, T], group-major (stream ``g * num_levels + l``).
    ``codebook.codebook_dim`` is per group. HiFi-Codec's quantizer is ``GroupedResidualVQ(512, groups=2, num_levels=2)``.
    Training updates of all groups and levels share one all-reduce per step. ``codebook_type``
    is every codebook's class (``SimVQCodebook`` for SimVQ).
    """

    def __init__(
        self,
        dim: int,
        groups: int = 1,
        num_levels: int = 8,
        codebook_size: int = 1024,
        codebook: CodebookConfig | None = None,
        dropout_rate: float = 0.0,
        dropout_per_sample: bool = False,
        bypass: BypassConfig | None = None,
        standardize: bool = False,
        codebook_type: type[EMACodebook] = EMACodebook,
    ) -> None:
        super().__init__(
            dim,
            groups,
            num_levels,
            codebook_size,
            dropout_rate,
            dropout_per_sample,
            bypass,
            standardize,
        )
        if dim % groups:
            raise ValueError(f"dim ({dim}) must be divisible by groups ({groups})")
        self.group_dim = dim // groups
        self.rvqs = nn.ModuleList(
            ResidualVQ(
                self.group_dim,
                num_levels,
                codebook_size,
                codebook,
                seed=g,
                codebook_type=codebook_type,
            )
            for g in range(groups)
        )

    def _group(self, g: int) -> ResidualVQ:
        rvq = self.rvqs[g]
        assert isinstance(rvq, ResidualVQ)
        return rvq

    def _slice(self, x: Tensor, g: int) -> Tensor:
        return x[:, g * self.group_dim : (g + 1) * self.group_dim]

    def run_flat(self, x: Tensor, plan: StepPlan) -> RunResult:
        # split (not slicing) so the backward is one concatenation, not G zero-filled copies
        slices = x.split(self.group_dim, dim=1)
        parts = [self._group(g).run_flat(slices[g], plan) for g in range(self.groups)]
        codebook = [p.codebook for p in parts if p.codebook is not None]
        return RunResult(
            quantized=_cat_channels([p.quantized for p in parts]),
            codes=[c for p in parts for c in p.codes],
            # each group is a slice of the channels: the mean keeps the scale of a full-width MSE
            commit=torch.stack([p.commit for p in parts]).mean(),
            codebook=torch.stack(codebook).mean() if codebook else None,
        )

    def encode_flat(self, x: Tensor, num_levels: int) -> list[Tensor]:
        return [
            c
            for g in range(self.groups)
            for c in self._group(g).encode_flat(self._slice(x, g), num_levels)
        ]

    def decode_flat(self, codes: Tensor, num_levels: int) -> Tensor:
        n = num_levels
        return _cat_channels(
            [
                self._group(g).decode_flat(codes[:, g * n : (g + 1) * n], n)
                for g in range(self.groups)
            ]
        )

    def init_codebooks(self, x: Tensor) -> None:
        for g in range(self.groups):
            self._group(g).init_codebooks(self._slice(x, g))

    def named_codebooks(self, num_levels: int) -> list[tuple[str, EMACodebook]]:
        return [
            (f"g{g}l{i}", cb)
            for g in range(self.groups)
            for i, (_, cb) in enumerate(self._group(g).named_codebooks(num_levels))
        ]


def _cat_channels(parts: list[Tensor]) -> Tensor:
    """Concatenate flat [N, D_g] group results along channels (one group: no copy)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
