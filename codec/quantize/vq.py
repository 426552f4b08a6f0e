"""VectorQuantizer: one codebook behind an optional projection; also a residual level."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from codec.quantize import functional as Fq
from codec.quantize.base import (
    Gain,
    Projection,
    QuantizerBase,
    RunResult,
    StepPlan,
    apply_gain,
    loss_weights,
)
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import CodebookConfig


@dataclass
class LevelOutput:
    """One codebook's pass over vectors [N, D]: codes [N], code vectors ``quantized`` [N, D]
    (with gradient to the codebook in gradient mode), unweighted losses (None when the level
    is dropped)."""

    codes: Tensor
    quantized: Tensor
    commit: Tensor | None
    codebook: Tensor | None


class VectorQuantizer(QuantizerBase):
    """Single-codebook VQ on ``x`` [B, dim, T].

    With ``codebook.codebook_dim`` != ``dim`` the vectors are projected to ``codebook_dim`` and
    back; with ``codebook.normalize`` codes are chosen by cosine similarity in that space (DAC's
    factorized, L2-normalised codes). ``codebook_type`` picks the codebook class (e.g.
    ``SimVQCodebook``). Codes are [B, 1, T].
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int = 1024,
        codebook: CodebookConfig | None = None,
        seed: int = 0,
        codebook_type: type[EMACodebook] = EMACodebook,
    ) -> None:
        super().__init__(dim, 1, 1, codebook_size)
        codebook = codebook or CodebookConfig()
        inner = codebook.codebook_dim or dim
        self.project = Projection(dim, inner)
        self.codebook = codebook_type(inner, codebook_size, codebook, seed=seed)

    def quantize_level(self, r: Tensor, weights: Tensor | None, gain: Gain) -> LevelOutput:
        """Quantize vectors ``r`` [N, codebook_dim] (no projection); feeds the pending
        statistics when a step is open. Commitment pulls ``r`` towards its (detached) code."""
        r_det = r.detach()
        codes = self.codebook.nearest(r_det)
        q = self.codebook.lookup(codes)
        if self.codebook.pending is not None:
            self.codebook.accumulate(r_det, codes, weights)
        if not isinstance(gain, Tensor) and gain == 0.0:
            return LevelOutput(codes, q, None, None)
        w = loss_weights(weights, gain)
        commit = Fq.masked_mse(r, q.detach(), w)
        codebook = None if self.codebook.config.ema else Fq.masked_mse(q, r_det, w)
        return LevelOutput(codes, q, commit, codebook)

    # -- QuantizerBase hooks -----------------------------------------------------------------
    def run_flat(self, x: Tensor, plan: StepPlan) -> RunResult:
        z = self.project.inp(x)
        level = self.quantize_level(z, plan.weights, plan.gains[0])
        total = apply_gain(level.quantized.detach(), plan.gains[0])
        out = self.project.out(Fq.straight_through(z, total))
        commit = level.commit if level.commit is not None else z.new_zeros(())
        return RunResult(out, [level.codes], commit, level.codebook)

    def encode_flat(self, x: Tensor, num_levels: int) -> list[Tensor]:
        return [self.codebook.nearest(self.project.encode_in(x))]

    def decode_flat(self, codes: Tensor, num_levels: int) -> Tensor:
        return self.project.out(self.codebook.lookup(codes[:, 0]))

    def init_codebooks(self, x: Tensor) -> None:
        if not self.codebook.is_initialized:
            self.codebook.init_from_data(self.project.inp(x))

    def named_codebooks(self, num_levels: int) -> list[tuple[str, EMACodebook]]:
        return [("g0l0", self.codebook)]


def level_stack_init(levels: list[VectorQuantizer], z: Tensor) -> None:
    """Gated k-means: level i initialises on the residual left by the already-initialised
    levels before it, so levels initialise strictly in order."""
    residual = z
    for level in levels:
        cb = level.codebook
        if not cb.is_initialized:
            cb.init_from_data(residual)
        residual = residual - cb.lookup(cb.nearest(residual)).detach()
