"""CodebookConfig: the per-codebook settings every quantizer passes down whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodebookConfig:
    """How each codebook is searched, learnt, initialised and repaired.

    ``codebook_dim``: the codes' dimension (None = the quantized vectors' own; a smaller value
    adds a projection); ``normalize``: choose codes by cosine similarity (DAC's factorized,
    L2-normalised codes); ``ema``: EMA statistics with ``decay`` / Laplace ``epsilon``, else a
    gradient-trained embedding; ``kmeans_init``: k-means (``kmeans_iters``) on the first batch;
    a code is dead when its EMA usage is below ``threshold_dead`` times the uniform share
    (``<= 0`` disables the reset), checked every ``reset_every`` updates (``<= 0``: never).
    ``dead_window`` > 0 also counts a code dead once it has gone that many updates without a
    single assignment: a window detector that reacts within ``dead_window`` steps whatever the
    EMA ``decay`` (it needs ``reset_every`` > 0; ``threshold_dead`` may then be 0).
    ``decay_warmup`` > 0 lowers the decay over the first updates to ``min(decay, (1 + t) /
    (decay_warmup + t))`` at update ``t`` (TensorFlow's ExponentialMovingAverage rule): while
    a fresh encoder's latent moves faster than a slow EMA follows, the codes and their usage
    track it, and codes its latent has left are found dead within a few steps.
    """

    codebook_dim: int | None = None
    normalize: bool = False
    ema: bool = True
    decay: float = 0.99
    epsilon: float = 1e-5
    kmeans_init: bool = True
    kmeans_iters: int = 10
    threshold_dead: float = 0.1
    reset_every: int = 1
    dead_window: int = 0
    decay_warmup: int = 0

    def __post_init__(self) -> None:
        if self.codebook_dim is not None and self.codebook_dim < 1:
            raise ValueError(f"codebook_dim must be None or >= 1, got {self.codebook_dim}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay}")
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")
        if self.kmeans_iters < 0:
            raise ValueError(f"kmeans_iters must be >= 0, got {self.kmeans_iters}")
        if self.dead_window < 0:
            raise ValueError(f"dead_window must be >= 0, got {self.dead_window}")
        if self.decay_warmup < 0:
            raise ValueError(f"decay_warmup must be >= 0, got {self.decay_warmup}")

    @property
    def resets(self) -> bool:
        """Whether dead codes are detected and replaced at all."""
        return self.reset_every > 0 and (self.threshold_dead > 0 or self.dead_window > 0)


@dataclass(frozen=True)
class BypassConfig:
    """Quantizer bypass (Mimi's "no quantization" rate) and k-means refit after a warm-up.

    For the first ``steps`` training updates the quantizer hands the decoder its input
    unquantized (codes are still chosen and the codebooks still learn), so the encoder learns a
    spread-out latent before the commitment loss can pull it onto a few codes; the last
    ``refit_vectors`` latent frames seen are kept, and when the warm-up ends every codebook is
    re-fitted to them by k-means, level after level. After the warm-up each sample is bypassed
    with probability ``rate``. ``steps`` = 0 and ``rate`` = 0 (default): never bypass.
    """

    steps: int = 0
    rate: float = 0.0
    refit_vectors: int = 8192

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"bypass.steps must be >= 0, got {self.steps}")
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"bypass.rate must be in [0, 1), got {self.rate}")
        if self.refit_vectors < 1:
            raise ValueError(f"bypass.refit_vectors must be >= 1, got {self.refit_vectors}")

    @property
    def enabled(self) -> bool:
        return self.steps > 0 or self.rate > 0
