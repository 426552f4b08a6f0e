"""ResidualVQ: a stack of VectorQuantizer levels, each quantizing what the previous left."""

from __future__ import annotations

from torch import Tensor, nn

from codec.quantize import functional as Fq
from codec.quantize.base import Projection, QuantizerBase, RunResult, StepPlan, apply_gain
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig, CodebookConfig
from codec.quantize.vq import VectorQuantizer, level_stack_init


class ResidualVQ(QuantizerBase):
    """Residual VQ with ``num_levels`` codebooks on ``x`` [B, dim, T]; codes [B, L, T].

    One optional projection to ``codebook.codebook_dim`` wraps the whole stack (shared by the
    levels); the straight-through estimator is applied once, to the sum of the (detached) levels, so
    the input's gradient is exactly the upstream gradient (with no projection). Any prefix of
    levels decodes (``num_codebooks``); quantizer dropout trains that ability. ``codebook_type``
    is every level's codebook class.
    """

    def __init__(
        self,
        dim: int,
        num_levels: int = 8,
        codebook_size: int = 1024,
        codebook: CodebookConfig | None = None,
        dropout_rate: float = 0.0,
        dropout_per_sample: bool = False,
        bypass: BypassConfig | None = None,
        standardize: bool = False,
        seed: int = 0,
        codebook_type: type[EMACodebook] = EMACodebook,
    ) -> None:
        super().__init__(
            dim, 1, num_levels, codebook_size, dropout_rate, dropout_per_sample, bypass, standardize
        )
        codebook = codebook or CodebookConfig()
        inner = codebook.codebook_dim or dim
        self.project = Projection(dim, inner)
        # the name `levels` is part of the state-dict keys of saved models
        self.levels = nn.ModuleList(
            VectorQuantizer(
                inner, codebook_size, codebook, seed=seed * 1009 + i, codebook_type=codebook_type
            )
            for i in range(num_levels)
        )

    def _level(self, i: int) -> VectorQuantizer:
        level = self.levels[i]
        assert isinstance(level, VectorQuantizer)
        return level

    def run_flat(self, x: Tensor, plan: StepPlan) -> RunResult:
        z = self.project.inp(x)
        residual, total = z, z.new_zeros(())
        commit: list[Tensor] = []
        codebook: list[Tensor] = []
        codes: list[Tensor] = []
        for i in range(plan.num_levels):
            out = self._level(i).quantize_level(residual, plan.weights, plan.gains[i])
            codes.append(out.codes)
            q = out.quantized.detach()  # each level's target is detached; STE once below
            if out.commit is not None:
                commit.append(out.commit)
                total = q if i == 0 else total + apply_gain(q, plan.gains[i])
            if out.codebook is not None:
                codebook.append(out.codebook)
            if i + 1 < plan.num_levels:
                residual = residual - q
        quantized = self.project.out(Fq.straight_through(z, total))
        return RunResult(
            quantized,
            codes,
            sum(commit[1:], commit[0]),
            sum(codebook[1:], codebook[0]) if codebook else None,
        )

    def encode_flat(self, x: Tensor, num_levels: int) -> list[Tensor]:
        residual = self.project.encode_in(x)
        codes: list[Tensor] = []
        for i in range(num_levels):
            cb = self._level(i).codebook
            c = cb.nearest(residual)
            codes.append(c)
            if i + 1 < num_levels:
                q = cb.lookup(c)
                # the first subtraction makes a private copy; later ones can run in place
                residual = residual - q if i == 0 else residual.sub_(q)
        return codes

    def decode_flat(self, codes: Tensor, num_levels: int) -> Tensor:
        # summed in the same order as run_flat, so decode(encode(x)) equals forward's output
        total = self._level(0).codebook.lookup(codes[:, 0])
        for i in range(1, num_levels):
            total = total + self._level(i).codebook.lookup(codes[:, i])
        return self.project.out(total)

    def init_codebooks(self, x: Tensor) -> None:
        level_stack_init([self._level(i) for i in range(self.num_levels)], self.project.inp(x))

    def named_codebooks(self, num_levels: int) -> list[tuple[str, EMACodebook]]:
        return [(f"g0l{i}", self._level(i).codebook) for i in range(num_levels)]
