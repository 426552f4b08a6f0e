"""Finite scalar quantization (Mentzer et al. 2023), residual and grouped.

Each group projects its channels to ``d = len(levels)`` dimensions; dimension ``i`` is bounded
so that rounding gives exactly ``levels[i]`` integers, and the rounded vector is one code of a
fixed grid with ``prod(levels)`` points (its mixed-radix index). Nothing is learnt but the
projections, so no code can collapse and there are no codebook losses. Residual levels quantize
what the previous ones left, each on a grid scaled down by the previous grid's step.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from codec.quantize import functional as Fq
from codec.quantize.base import Projection, QuantizerBase, RunResult, StepPlan, apply_gain
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig, CodebookConfig

#: keeps the bound's extreme values a little beyond the outermost rounding boundary, so the
#: outermost integers are reached before tanh saturates
BOUND_EPS = 1e-3


def fsq_bound(z: Tensor, levels: Tensor) -> Tensor:
    """``z`` [N, d] squashed per dimension so that ``round()`` takes exactly ``levels[i]``
    integer values, ``-(L // 2) .. (L - 1) // 2``, and maps 0 to 0 (up to float rounding).

    Odd L: ``tanh(z) * (L - 1) / 2``. Even L has no integer centre: the range is shifted down by
    one half (and the input shifted so that 0 still maps to 0), the FSQ paper's half-offset.
    """
    levels = levels.to(z.dtype)
    half = (levels - 1) * (1 + BOUND_EPS) / 2
    offset = (1 - levels.remainder(2)) * 0.5  # 0.5 for even L, 0 for odd
    shift = torch.atanh(offset / half)
    return torch.tanh(z + shift) * half - offset


def mixed_radix(levels: tuple[int, ...]) -> list[int]:
    """Place values of the digits: ``[1, L0, L0 * L1, ...]``."""
    return [math.prod(levels[:i]) for i in range(len(levels))]


class FSQCodebook(EMACodebook):
    """The implicit grid of one FSQ level: ``prod(levels)`` points of dimension ``len(levels)``.

    Level ``level`` of a residual stack works at ``scale = (1 / (2 * (L // 2))) ** level`` per
    dimension: half a step of the grid before it. No parameters; the parent's buffers keep the
    usage statistics for metrics, all-reduced like any codebook's. Never initialised from data,
    never reset (every grid point always exists).
    """

    def __init__(
        self, levels: tuple[int, ...], level: int = 0, codebook: CodebookConfig | None = None
    ) -> None:
        config = dataclasses.replace(
            codebook or CodebookConfig(), codebook_dim=None, ema=False, kmeans_init=False
        )
        super().__init__(len(levels), math.prod(levels), config, seed=level)
        # the parent's random embedding means nothing here: the grid below replaces it
        self._parameters.pop("embedding")
        self.levels = tuple(levels)
        half_width = torch.tensor([v // 2 for v in levels])
        self.levels_t: Tensor
        self.radix: Tensor
        self.half_width: Tensor
        self.scale: Tensor
        # derived from `levels` (stored in the config): not part of the state dict
        self.register_buffer("levels_t", torch.tensor(levels), persistent=False)
        self.register_buffer("radix", torch.tensor(mixed_radix(levels)), persistent=False)
        self.register_buffer("half_width", half_width, persistent=False)
        self.register_buffer("scale", (2.0 * half_width).pow(-float(level)), persistent=False)

    @property
    def embedding(self) -> Tensor:  # type: ignore[override]
        """Every grid point [K, d], in code order."""
        return self.lookup(torch.arange(self.codebook_size, device=self.radix.device))

    def quantize(self, r: Tensor) -> tuple[Tensor, Tensor]:
        """Grid values [N, d] of ``r`` [N, d] (straight-through: the gradient skips only the
        rounding, the bound's is kept) and their codes [N]."""
        b = fsq_bound(r / self.scale, self.levels_t)
        rounded = Fq.straight_through(b, b.round())
        return self.values(rounded), self.codes_of(rounded.detach())

    def values(self, rounded: Tensor) -> Tensor:
        """Integers [N, d] -> grid values: about [-1, 1] times ``scale``."""
        return rounded / self.half_width * self.scale

    def codes_of(self, rounded: Tensor) -> Tensor:
        """Integers [N, d] -> mixed-radix codes [N] in ``[0, codebook_size)``."""
        digits = rounded.long() + self.half_width
        return (digits * self.radix).sum(1)

    def nearest(self, x: Tensor) -> Tensor:
        """Codes [N] of ``x`` [N, d]: the grid point of its bounded, rounded value."""
        with torch.no_grad():
            return self.codes_of(fsq_bound(x / self.scale, self.levels_t).round())

    def lookup(self, codes: Tensor) -> Tensor:
        """Grid values [N, d] of ``codes`` [N]."""
        digits = codes.unsqueeze(1).div(self.radix, rounding_mode="floor") % self.levels_t
        return self.values((digits - self.half_width).float())

    def reset_due(self) -> bool:
        return False

    def extra_repr(self) -> str:
        return f"levels={list(self.levels)}, scale={self.scale.tolist()}"


class GroupedResidualFSQ(QuantizerBase):
    """``groups`` residual FSQ stacks of ``num_levels`` levels on ``x`` [B, dim, T].

    Each group projects its ``dim // groups`` channels to ``len(levels)`` and back (identities
    when equal). Codes [B, groups * num_levels, T], group-major, in ``[0, prod(levels))``; any
    prefix of levels decodes and quantizer dropout trains that ability. The losses are a zero
    ``vq/commit`` (FSQ needs none); metrics as for the VQs.
    """

    def __init__(
        self,
        dim: int,
        levels: tuple[int, ...],
        groups: int = 1,
        num_levels: int = 1,
        codebook: CodebookConfig | None = None,
        dropout_rate: float = 0.0,
        dropout_per_sample: bool = False,
        bypass: BypassConfig | None = None,
        standardize: bool = False,
    ) -> None:
        if not levels or any(v < 2 for v in levels):
            raise ValueError(f"levels must be integers >= 2, got {list(levels)}")
        size = math.prod(levels)
        super().__init__(
            dim, groups, num_levels, size, dropout_rate, dropout_per_sample, bypass, standardize
        )
        if dim % groups:
            raise ValueError(f"dim ({dim}) must be divisible by groups ({groups})")
        self.group_dim = dim // groups
        self.fsq_levels = tuple(levels)
        self.projections = nn.ModuleList(
            Projection(self.group_dim, len(levels)) for _ in range(groups)
        )
        self.grids = nn.ModuleList(
            nn.ModuleList(FSQCodebook(self.fsq_levels, i, codebook) for i in range(num_levels))
            for _ in range(groups)
        )

    def _grid(self, g: int, i: int) -> FSQCodebook:
        group = self.grids[g]
        assert isinstance(group, nn.ModuleList)
        grid = group[i]
        assert isinstance(grid, FSQCodebook)
        return grid

    def _projection(self, g: int) -> Projection:
        proj = self.projections[g]
        assert isinstance(proj, Projection)
        return proj

    def run_flat(self, x: Tensor, plan: StepPlan) -> RunResult:
        slices = x.split(self.group_dim, dim=1)
        outs: list[Tensor] = []
        codes: list[Tensor] = []
        for g in range(self.groups):
            residual = self._projection(g).inp(slices[g])
            total = residual.new_zeros(())
            for i in range(plan.num_levels):
                grid, gain = self._grid(g, i), plan.gains[i]
                q, c = grid.quantize(residual)
                if grid.pending is not None:
                    grid.accumulate(residual.detach(), c, plan.weights)
                codes.append(c)
                # a level dropped for the whole batch adds nothing (not even zeros)
                if isinstance(gain, Tensor) or gain != 0.0:
                    total = q if i == 0 else total + apply_gain(q, gain)
                if i + 1 < plan.num_levels:
                    residual = residual - q.detach()
            outs.append(self._projection(g).out(total))
        quantized = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        return RunResult(quantized, codes, x.new_zeros(()), None)

    def encode_flat(self, x: Tensor, num_levels: int) -> list[Tensor]:
        slices = x.split(self.group_dim, dim=1)
        codes: list[Tensor] = []
        for g in range(self.groups):
            residual = self._projection(g).encode_in(slices[g])
            for i in range(num_levels):
                grid = self._grid(g, i)
                c = grid.nearest(residual)
                codes.append(c)
                if i + 1 < num_levels:
                    residual = residual - grid.lookup(c)
        return codes

    def decode_flat(self, codes: Tensor, num_levels: int) -> Tensor:
        outs: list[Tensor] = []
        for g in range(self.groups):
            # summed in the same order as run_flat, so decode(encode(x)) equals forward's output
            total = self._grid(g, 0).lookup(codes[:, g * num_levels])
            for i in range(1, num_levels):
                total = total + self._grid(g, i).lookup(codes[:, g * num_levels + i])
            outs.append(self._projection(g).out(total))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    def init_codebooks(self, x: Tensor) -> None:
        """Nothing to initialise: the grids are fixed."""

    def named_codebooks(self, num_levels: int) -> list[tuple[str, EMACodebook]]:
        return [
            (f"g{g}l{i}", self._grid(g, i)) for g in range(self.groups) for i in range(num_levels)
        ]
