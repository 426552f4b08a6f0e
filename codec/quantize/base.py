"""Typed results, layout descriptor and the shared public surface of every quantizer.

``QuantizerBase`` owns the parts that are the same for one VQ, a residual VQ and a grouped
residual VQ: input checks, the training step (k-means init, one all-reduce, dead-code reset),
quantizer dropout, metrics and the ``[B, D, T]`` <-> ``[N, D]`` reshapes. Subclasses only say
how to quantize, encode and decode flat ``[N, D]`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from codec.nn.kernels import framewise_linear
from codec.quantize import functional as Fq
from codec.quantize.codebook import EMACodebook
from codec.quantize.config import BypassConfig
from codec.quantize.distributed import World, begin_step, current_world, finish_step, gather_rows
from codec.quantize.layout import QuantizerLayout
from codec.quantize.standardize import RunningStandardizer
from codec.quantize.warmup import RowBuffer, bypass_mask

Gain = float | Tensor  # per level: 1.0 / 0.0 for the whole batch, or [N] per frame


@dataclass
class QuantizerOutput:
    """Result of a quantizer forward pass.

    quantized [B, D, T] (straight-through: gradient to the input is the upstream gradient);
    codes [B, K, T] int64, group-major; losses: the unweighted terms ``vq/commit`` (and
    ``vq/codebook`` in gradient mode), 0-dim; loss: their plain sum (training weights are the
    trainer's, e.g. ``LossConfig``); metrics: detached per-level scalars.
    """

    quantized: Tensor
    codes: Tensor
    loss: Tensor
    losses: dict[str, Tensor] = field(default_factory=dict)
    metrics: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class StepPlan:
    """What one pass does: ``num_levels`` per group, frame ``weights`` [N] (None = all valid)
    and each level's output ``gains`` (quantizer dropout)."""

    num_levels: int
    weights: Tensor | None
    gains: list[Gain]


@dataclass
class RunResult:
    """Flat result of a subclass's quantization: quantized [N, D], codes (one [N] per stream)."""

    quantized: Tensor
    codes: list[Tensor]
    commit: Tensor
    codebook: Tensor | None


class Projection(nn.Module):
    """Linear maps ``dim`` -> ``inner`` and back, or identities when the sizes agree."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.enabled = inner != dim
        self.inp: nn.Module = nn.Linear(dim, inner) if self.enabled else nn.Identity()
        self.out: nn.Module = nn.Linear(inner, dim) if self.enabled else nn.Identity()

    def encode_in(self, x: Tensor) -> Tensor:
        """``inp(x)`` for encoding [N, dim]: in fixed tiles of frames on CPU (batch-invariant)."""
        if not isinstance(self.inp, nn.Linear):
            return x
        return framewise_linear(x, self.inp.weight, self.inp.bias)


def float32_only(x: object) -> torch.autocast:
    """Autocast off for ``x``'s device: under bf16 the distance GEMMs would pick other codes
    and round the EMA statistics, so the quantizer always runs in float32."""
    device = x.device.type if isinstance(x, Tensor) else "cpu"
    return torch.autocast(device, enabled=False)


def loss_weights(weights: Tensor | None, gain: Gain) -> Tensor | None:
    """Per-frame loss weights [N] for a level: valid frames times its dropout gain."""
    if isinstance(gain, Tensor):
        return gain if weights is None else gain * weights
    return weights


def apply_gain(q: Tensor, gain: Gain) -> Tensor:
    return q * gain.unsqueeze(1) if isinstance(gain, Tensor) else q


class QuantizerBase(nn.Module):
    """Public forward / encode / decode on ``[B, D, T]``; subclasses implement the flat parts."""

    #: set False to skip the NaN/inf input check (its only cost is one host sync per call)
    check_finite: bool = True

    def __init__(
        self,
        dim: int,
        groups: int,
        num_levels: int,
        codebook_size: int,
        dropout_rate: float = 0.0,
        dropout_per_sample: bool = False,
        bypass: BypassConfig | None = None,
        standardize: bool = False,
    ) -> None:
        super().__init__()
        if dim < 1 or groups < 1 or num_levels < 1 or codebook_size < 1:
            raise ValueError(
                "dim, groups, num_levels and codebook_size must be >= 1, got "
                f"{dim}, {groups}, {num_levels}, {codebook_size}"
            )
        if not 0.0 <= dropout_rate <= 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1], got {dropout_rate}")
        self.dim, self.groups, self.num_levels = dim, groups, num_levels
        self._codebook_size = codebook_size
        self.dropout_rate, self.dropout_per_sample = dropout_rate, dropout_per_sample
        #: number of levels each sample kept in the last training step ([B], CPU), for logging
        self.last_dropout_levels: Tensor | None = None
        self.bypass = bypass or BypassConfig()
        #: recent latent frames for the refit that ends the bypass warm-up (see warmup.py)
        self.recent = RowBuffer(self.bypass.refit_vectors)
        #: quantize per-channel standardized latents (see standardize.py); None: raw latents
        self.standardizer = RunningStandardizer(dim) if standardize else None

    # -- to implement (public: a grouped quantizer drives its groups through them) ----------
    def run_flat(self, x: Tensor, plan: StepPlan) -> RunResult:
        """Quantize flat frames ``x`` [N, D] as ``plan`` says (inside an open step)."""
        raise NotImplementedError

    def encode_flat(self, x: Tensor, num_levels: int) -> list[Tensor]:
        """Codes of ``x`` [N, D]: one [N] tensor per stream, ``num_levels`` per group."""
        raise NotImplementedError

    def decode_flat(self, codes: Tensor, num_levels: int) -> Tensor:
        """Vectors [N, D] of ``codes`` [N, K'] (``num_levels`` per group)."""
        raise NotImplementedError

    def init_codebooks(self, x: Tensor) -> None:
        """k-means-initialise the uninitialised codebooks on frames ``x`` [N, D]."""
        raise NotImplementedError

    def named_codebooks(self, num_levels: int) -> list[tuple[str, EMACodebook]]:
        """``(gGlL, codebook)`` of the first ``num_levels`` levels of every group."""
        raise NotImplementedError

    # -- description -------------------------------------------------------------------------
    @property
    def layout(self) -> QuantizerLayout:
        return QuantizerLayout(self.groups, self.num_levels, self._codebook_size)

    @property
    def num_codebooks(self) -> int:
        return self.groups * self.num_levels

    @property
    def codebook_size(self) -> int:
        return self._codebook_size

    # -- public API --------------------------------------------------------------------------
    def forward(
        self, x: Tensor, mask: Tensor | None = None, num_codebooks: int | None = None
    ) -> QuantizerOutput:
        """Quantize ``x`` [B, D, T]; ``mask`` [B, T] bool (True = valid frame) keeps padding out
        of statistics, losses and metrics. In training mode also updates the codebooks."""
        with float32_only(x):
            num_levels = self._num_levels_for(num_codebooks)
            x_flat, weights = self._flatten(x, mask)
            batch, _, frames = x.shape
            named = self.named_codebooks(num_levels)
            codebooks = [cb for _, cb in named]
            world = current_world()
            raw, x_flat = x_flat, self._standardize(x_flat, weights, world)
            if self.training and not all(
                cb.is_initialized for _, cb in self.named_codebooks(self.num_levels)
            ):
                self._kmeans_init(x_flat, weights, world)
            bypass = self._bypass_step(x_flat, weights, batch, frames, world)
            std = self.standardizer if self.training else None
            extra = std.numel if std is not None else 0
            flat = begin_step(codebooks, world, x_flat.device, self.training, extra)
            counts = [cb.pending.counts for cb in codebooks if cb.pending is not None]
            if std is not None:
                std.accumulate(flat[-extra:], raw, weights)
            try:
                gains = self._dropout_gains(batch, frames, num_levels, x.device)
                if bypass is not None:  # bypassed frames neither commit nor train a codebook
                    gains = [g * (1.0 - bypass) for g in gains]
                run = self.run_flat(x_flat, StepPlan(num_levels, weights, gains))
                if bypass is not None:  # the decoder gets the latent itself for those frames
                    run.quantized = torch.where(bypass.unsqueeze(1) > 0, x_flat, run.quantized)
                if self.training:
                    resets = finish_step(codebooks, flat, world)
                    if std is not None:
                        std.update(flat[-extra:])
                else:
                    resets = [flat.new_zeros(()) for _ in codebooks]
            finally:
                for cb in codebooks:
                    cb.pending = None
            return self._output(x, run, named, counts, resets)

    @torch.no_grad()
    def encode(self, x: Tensor, num_codebooks: int | None = None) -> Tensor:
        """Codes [B, K, T] (int64) of ``x`` [B, D, T]; K = ``num_codebooks`` or all."""
        num_levels = self._num_levels_for(num_codebooks)
        x_flat, _ = self._flatten(x, None)
        with float32_only(x_flat):
            if self.standardizer is not None:
                x_flat = self.standardizer(x_flat)
            codes = self.encode_flat(x_flat, num_levels)
        return self._codes_to_bkt(codes, x.shape[0], x.shape[2])

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        """Vectors [B, D, T] for ``codes`` [B, K', T]; K' <= K, a multiple of the groups
        (fewer levels per group)."""
        num_levels = self._check_codes(codes)
        batch, k, frames = codes.shape
        flat = codes.transpose(1, 2).reshape(batch * frames, k)
        with float32_only(codes):
            out = self.decode_flat(flat, num_levels)
        return out.view(batch, frames, self.dim).transpose(1, 2).contiguous()

    # -- helpers -----------------------------------------------------------------------------
    def _num_levels_for(self, num_codebooks: int | None) -> int:
        if num_codebooks is None:
            return self.num_levels
        n = num_codebooks
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.num_codebooks:
            raise ValueError(
                f"num_codebooks must be an int in [1, {self.num_codebooks}], got {n!r}"
            )
        if n % self.groups:
            raise ValueError(f"num_codebooks ({n}) must be a multiple of groups ({self.groups})")
        return n // self.groups

    def _flatten(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """[B, D, T] -> ([B*T, D] float32 frames, [B*T] weights or None), with checks."""
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"expected x of shape [B, {self.dim}, T], got {shape}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point, got {x.dtype}")
        if self.check_finite and x.numel():
            # one reduction pass (min/max propagate NaN) instead of isfinite's several
            lo, hi = torch.aminmax(x)
            if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
                raise ValueError("x contains NaN or inf")
        batch, dim, frames = x.shape
        flat = x.transpose(1, 2).reshape(batch * frames, dim).float()
        if mask is None:
            return flat, None
        if (
            not isinstance(mask, Tensor)
            or mask.dtype != torch.bool
            or mask.shape != (batch, frames)
        ):
            got = (tuple(mask.shape), mask.dtype) if isinstance(mask, Tensor) else type(mask)
            raise ValueError(f"mask must be a bool tensor of shape [{batch}, {frames}], got {got}")
        return flat, mask.reshape(batch * frames).to(flat.dtype)

    def _check_codes(self, codes: Tensor) -> int:
        if not isinstance(codes, Tensor) or codes.ndim != 3:
            raise ValueError(
                f"codes must have shape [B, K, T], got {getattr(codes, 'shape', codes)}"
            )
        if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise ValueError(f"codes must be an integer tensor, got {codes.dtype}")
        k = codes.shape[1]
        if not 1 <= k <= self.num_codebooks or k % self.groups:
            raise ValueError(
                f"codes have {k} streams; expected 1..{self.num_codebooks}, "
                f"a multiple of groups ({self.groups})"
            )
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.codebook_size})")
        return k // self.groups

    def _codes_to_bkt(self, codes: list[Tensor], batch: int, frames: int) -> Tensor:
        stacked = torch.stack(codes)  # [K, N]
        return stacked.view(len(codes), batch, frames).transpose(0, 1).contiguous()

    def _kmeans_init(self, x: Tensor, weights: Tensor | None, world: World) -> None:
        """Initialise every uninitialised codebook, level by level, on all ranks' valid frames."""
        with torch.no_grad():
            local = x if weights is None else x[weights > 0]
            data = gather_rows(local, world)
            if data.shape[0] > 0:  # an all-padding batch waits for the next one
                self.init_codebooks(data)

    def _standardize(self, x: Tensor, weights: Tensor | None, world: World) -> Tensor:
        """``x`` [N, D] standardized (statistics from the first batch on the first training
        step), or ``x`` itself without a standardizer."""
        if self.standardizer is None:
            return x
        if self.training and not self.standardizer.is_initialized:
            self.standardizer.init_from(x, weights, world)
        return self.standardizer(x)

    def _bypass_step(
        self, x: Tensor, weights: Tensor | None, batch: int, frames: int, world: World
    ) -> Tensor | None:
        """Training only: this step's bypass flags [N] (None: none). Keeps the warm-up's recent
        frames and, at the first update after the warm-up, re-fits every codebook to them."""
        if not self.training or not self.bypass.enabled:
            return None
        step, steps = self.named_codebooks(1)[0][1].update_count, self.bypass.steps
        if step <= steps and steps > 0:
            self.recent.add(x if weights is None else x[weights > 0])
            if step == steps:
                self._refit(world, x.device)
        return bypass_mask(self.bypass, step, batch, frames, x.device)

    def _refit(self, world: World, device: torch.device) -> None:
        """k-means re-fit of every codebook, level by level, on all ranks' recent frames."""
        with torch.no_grad():
            data = self.recent.take_all(world, self.dim, device)
            if data.shape[0] > 0:
                for _, cb in self.named_codebooks(self.num_levels):
                    cb.forget()
                self.init_codebooks(data)

    def _dropout_gains(
        self, batch: int, frames: int, num_levels: int, device: torch.device
    ) -> list[Gain]:
        """Quantizer dropout: with probability ``dropout_rate`` keep only the first n ~ U{1..L}
        levels (per batch or per sample). Seeded from the shared update counter, so every rank
        draws the same numbers without communicating."""
        if not self.training or self.dropout_rate <= 0 or num_levels < 2:
            self.last_dropout_levels = None
            return [1.0] * num_levels
        step = self.named_codebooks(1)[0][1].update_count
        gen = torch.Generator().manual_seed(0x5EED + 1_000_003 * step)
        draws = batch if self.dropout_per_sample else 1
        drop = torch.rand(draws, generator=gen) < self.dropout_rate
        n = torch.where(drop, torch.randint(1, num_levels + 1, (draws,), generator=gen), num_levels)
        self.last_dropout_levels = n.expand(batch)
        if not self.dropout_per_sample:
            kept = int(n[0])  # CPU tensor: no device sync
            return [1.0 if i < kept else 0.0 for i in range(num_levels)]
        per_frame = n.to(device).repeat_interleave(frames)
        return [(per_frame > i).float() for i in range(num_levels)]

    def _output(
        self,
        x: Tensor,
        run: RunResult,
        named: list[tuple[str, EMACodebook]],
        counts: list[Tensor],
        resets: list[Tensor],
    ) -> QuantizerOutput:
        batch, dim, frames = x.shape
        quantized = run.quantized.view(batch, frames, dim).transpose(1, 2).contiguous().to(x.dtype)
        losses = {"vq/commit": run.commit}
        if run.codebook is not None:
            losses["vq/codebook"] = run.codebook
        loss = run.commit if run.codebook is None else run.commit + run.codebook
        return QuantizerOutput(
            quantized=quantized,
            codes=self._codes_to_bkt(run.codes, batch, frames),
            loss=loss,
            losses=losses,
            metrics=self._metrics(named, counts, resets),
        )

    def _metrics(
        self, named: list[tuple[str, EMACodebook]], counts: list[Tensor], resets: list[Tensor]
    ) -> dict[str, Tensor]:
        with torch.no_grad():
            c = torch.stack(counts)  # [L, K], global after the all-reduce in training
            dead = torch.stack([cb.dead_mask() for _, cb in named])
            values = {
                "usage": (c > 0).float().mean(1),
                "entropy": Fq.normalized_entropy(c),
                "perplexity": Fq.perplexity(c),
                "dead": dead.float().mean(1),
                "resets": torch.stack(resets).float(),
            }
        return {
            f"vq/{key}/{name}": vals[i]
            for key, vals in values.items()
            for i, (name, _) in enumerate(named)
        }
