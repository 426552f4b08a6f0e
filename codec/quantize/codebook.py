"""EMACodebook: one codebook, its sufficient statistics and its dead-code reset."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codec.nn.kernels import framewise_linear, invariant_apply
from codec.quantize import functional as Fq
from codec.quantize.config import CodebookConfig


@dataclass
class PendingUpdate:
    """Views into the step's flat all-reduce buffer that one codebook writes during forward.

    counts [K]; sums [K, D] (EMA mode only); candidates [W, C, D + 1] (reset steps only): rank
    r writes up to C candidate vectors plus a validity weight in slot r, the other slots stay
    zero, so one SUM all-reduce gathers every rank's candidates.
    """

    counts: Tensor
    sums: Tensor | None = None
    candidates: Tensor | None = None
    rank: int = 0
    reset: bool = False


#: replacement candidates offered per codebook and step, over all ranks together
MAX_CANDIDATES = 256


class EMACodebook(nn.Module):
    """``codebook_size`` codes of dimension ``dim``, learnt by EMA (default) or by gradient.

    EMA mode keeps the sufficient statistics ``cluster_usage`` [K] and ``embedding_sum`` [K, D]
    and derives ``embedding`` [K, D] from them. Gradient mode (``ema=False``) makes
    ``embedding`` a parameter (trained by the codebook loss) and keeps ``cluster_usage`` only for
    dead-code detection and metrics. A dead code is replaced together with its statistics, so
    the next EMA re-normalisation keeps the new vector. Settings come from ``codebook``
    (its ``codebook_dim`` is the caller's business: ``dim`` is already the codes' dimension).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        codebook: CodebookConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if dim < 1 or codebook_size < 1:
            raise ValueError(f"dim and codebook_size must be >= 1, got {dim}, {codebook_size}")
        self.dim, self.codebook_size = dim, codebook_size
        self.config = codebook or CodebookConfig()
        kmeans_init, ema = self.config.kmeans_init, self.config.ema
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        init = torch.randn(codebook_size, dim, generator=generator) / math.sqrt(dim)
        self.initialized: Tensor
        self.updates: Tensor
        self.cluster_usage: Tensor
        self.embedding_sum: Tensor
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("cluster_usage", torch.ones(codebook_size))
        # update index of each code's latest assignment (the window dead-code detector); a
        # buffer only when used, so models without it keep their state-dict keys
        last_used = torch.zeros(codebook_size, dtype=torch.long)
        self.last_used: Tensor | None
        self.register_buffer("last_used", last_used if self.config.dead_window > 0 else None)
        self.embedding: Tensor
        if ema:
            self.register_buffer("embedding_sum", init.clone())
            self.register_buffer("embedding", init)
        else:
            self.embedding = nn.Parameter(init)
        # Python mirrors of the flag and counter, so the hot path never syncs with the device
        self._initialized = not kmeans_init
        self._updates = 0
        self.pending: PendingUpdate | None = None
        self._search_cache: tuple[Any, Tensor, Tensor] | None = None

    # ----------------------------------------------------------------------------------------
    # lookup
    def search_tables(self) -> tuple[Tensor, Tensor]:
        """Detached embedding [K, D] the search compares against (L2-normalised with
        ``normalize``) and its squared norms [K]; cached until the embedding changes."""
        emb = self.embedding.detach()
        key = (emb.data_ptr(), emb.device, emb._version)
        if self._search_cache is None or self._search_cache[0] != key:
            search = F.normalize(emb, dim=1) if self.config.normalize else emb
            self._search_cache = (key, search, search.pow(2).sum(1))
        return self._search_cache[1], self._search_cache[2]

    def nearest(self, x: Tensor) -> Tensor:
        """Codes [N] of the nearest codes to ``x`` [N, D] (no gradient)."""
        with torch.no_grad():
            search, search_sq = self.search_tables()
            if self.config.normalize:
                x = F.normalize(x, dim=1)
            if not invariant_apply(x):
                return Fq.nearest_code(x, search, search_sq)
            # Fq.nearest_code's scores in fixed tiles of frames: a frame's code must not depend
            # on how many frames came with it (near-ties are decided by the last ulp)
            return framewise_linear(x, search, search_sq, scale=-2.0).argmin(dim=1)

    def lookup(self, codes: Tensor) -> Tensor:
        """Code vectors [N, D] for ``codes`` [N]; carries gradient in gradient mode."""
        return self.embedding.index_select(0, codes)

    # ----------------------------------------------------------------------------------------
    # training-time updates
    @property
    def is_initialized(self) -> bool:
        return self._initialized

    @property
    def update_count(self) -> int:
        """Updates applied so far (a host-side mirror of the ``updates`` buffer: no sync)."""
        return self._updates

    def reset_due(self) -> bool:
        """Whether the update at the end of this step also replaces dead codes."""
        if not self.config.resets or not self._initialized:
            return False
        return (self._updates + 1) % self.config.reset_every == 0

    def dead_mask(self, now: Tensor | int | None = None) -> Tensor:
        """Codes [K] (bool) counted dead: EMA usage below ``threshold_dead`` times the uniform
        share, or (with ``dead_window``) no assignment for ``dead_window`` updates up to update
        index ``now`` (default: the updates applied so far)."""
        dead = torch.zeros_like(self.cluster_usage, dtype=torch.bool)
        if self.config.threshold_dead > 0:
            dead = Fq.dead_code_mask(self.cluster_usage, self.config.threshold_dead)
        if self.last_used is not None:
            now = self.updates if now is None else now
            dead = dead | Fq.stale_code_mask(self.last_used, now, self.config.dead_window)
        return dead

    def pending_numel(self, world_size: int, reset: bool) -> int:
        """Floats this codebook needs in the step's flat buffer."""
        k, d = self.codebook_size, self.dim
        n = k + (k * d if self.config.ema else 0)
        if reset:
            n += world_size * self.candidates_per_rank(world_size) * (d + 1)
        return n

    def candidates_per_rank(self, world_size: int) -> int:
        # together the ranks offer up to MAX_CANDIDATES vectors per step (ceil-divided): a
        # fully dead codebook is rebuilt within a few steps while the all-reduce stays small
        return -(-min(self.codebook_size, MAX_CANDIDATES) // world_size)

    def attach_pending(
        self, flat: Tensor, rank: int, world_size: int, reset: bool, counts_only: bool = False
    ) -> None:
        """Carve this step's ``PendingUpdate`` views out of ``flat`` (exactly pending_numel, or
        K floats with ``counts_only``, as eval-mode metrics need)."""
        k, d = self.codebook_size, self.dim
        counts, rest = flat[:k], flat[k:]
        sums = None
        if self.config.ema and not counts_only:
            sums, rest = rest[: k * d].view(k, d), rest[k * d :]
        cands = None
        if reset:
            cands = rest.view(world_size, self.candidates_per_rank(world_size), d + 1)
        self.pending = PendingUpdate(counts, sums, cands, rank, reset)

    def accumulate(self, x: Tensor, codes: Tensor, weights: Tensor | None) -> None:
        """Add this step's vectors ``x`` [N, D] (detached) with ``codes`` [N] to the pending
        statistics; on reset steps also offer random live rows as replacement candidates."""
        p = self.pending
        if p is None:
            raise RuntimeError("accumulate() called outside a quantizer step")
        with torch.no_grad():
            if p.sums is None:
                w = torch.ones_like(codes, dtype=p.counts.dtype) if weights is None else weights
                p.counts.index_add_(0, codes, w.to(p.counts.dtype))
            else:
                out = Fq.SufficientStats(p.counts, p.sums)
                Fq.batch_statistics(x, codes, self.codebook_size, weights, out=out)
            if p.candidates is not None:
                rows, valid = Fq.sample_rows(x, p.candidates.shape[1], weights)
                p.candidates[p.rank, : rows.shape[0], :-1] = rows
                p.candidates[p.rank, : rows.shape[0], -1] = valid

    def apply_pending(self) -> Tensor:
        """Apply the (all-reduced) pending update; returns how many codes were reset (0-dim)."""
        p = self.pending
        if p is None:
            raise RuntimeError("apply_pending() called outside a quantizer step")
        self.pending = None
        with torch.no_grad():
            # the host-side update count: no device sync, the same on every rank
            decay = Fq.warmup_decay(self.config.decay, self._updates, self.config.decay_warmup)
            Fq.ema(self.cluster_usage, p.counts, decay, out=self.cluster_usage)
            if p.sums is not None:
                Fq.ema(self.embedding_sum, p.sums, decay, out=self.embedding_sum)
            now = self.updates + 1
            if self.last_used is not None:
                torch.where(p.counts > 0, now, self.last_used, out=self.last_used)
            resets = p.counts.new_zeros(())
            if p.candidates is not None:
                resets = self._replace_dead(p.candidates, now)
            if self.config.ema:
                smoothed = Fq.laplace_smoothing(self.cluster_usage, self.config.epsilon)
                torch.div(self.embedding_sum, smoothed.unsqueeze(1), out=self.embedding)
            self.updates += 1
            self._updates += 1
        return resets

    def _replace_dead(self, candidates: Tensor, now: Tensor) -> Tensor:
        # interleave the ranks' slots (c0r0, c0r1, ..., c1r0, ...) so no rank is favoured
        flat = candidates.transpose(0, 1).reshape(-1, self.dim + 1)
        plan = Fq.plan_replacement(self.dead_mask(now), flat[:, :-1], flat[:, -1] > 0)
        # a fresh code gets the uniform share of usage: far from dead, so it has time to
        # attract data before the next check, and light enough that data moves it quickly
        share = self.cluster_usage.sum() / self.codebook_size
        # statistics first: the centroid derived from them is the new vector, so the EMA
        # re-normalisation cannot undo the reset (EnCodec's inert reset wrote only the centroid)
        Fq.apply_replacement_(self.cluster_usage, plan, share.expand(plan.ok.shape[0]))
        if self.last_used is not None:  # a fresh code gets a full window to attract data
            Fq.apply_replacement_(self.last_used, plan, now.expand(plan.ok.shape[0]))
        if self.config.ema:
            Fq.apply_replacement_(self.embedding_sum, plan, plan.vectors * share)
        else:
            Fq.apply_replacement_(self.embedding.data, plan, plan.vectors)
        return plan.ok.sum().to(self.cluster_usage.dtype)

    def init_from_data(self, x: Tensor) -> None:
        """k-means initialisation on ``x`` [N, D] (the same on every rank: fixed seed)."""
        gen = torch.Generator(device=x.device).manual_seed(self.seed)
        res = Fq.kmeans(
            x,
            self.codebook_size,
            self.config.kmeans_iters,
            normalize=self.config.normalize,
            generator=gen,
        )
        with torch.no_grad():
            self.embedding.copy_(res.centroids)
            self.cluster_usage.copy_(res.counts)
            if self.last_used is not None:
                self.last_used.fill_(self._updates)
            if self.config.ema:
                self.embedding_sum.copy_(res.centroids * res.counts.unsqueeze(1))
            self.initialized.fill_(True)
        self._initialized = True

    def forget(self) -> None:
        """Mark the codebook uninitialised, so the next ``init_codebooks`` re-fits it."""
        self.initialized.fill_(False)
        self._initialized = False

    # ----------------------------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        # refresh the Python mirrors once, at load time
        self._initialized = bool(self.initialized)
        self._updates = int(self.updates)

    def extra_repr(self) -> str:
        mode = "ema" if self.config.ema else "gradient"
        return f"dim={self.dim}, codebook_size={self.codebook_size}, {mode}"
