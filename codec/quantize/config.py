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

    def __post_init__(self) -> None:
        if self.codebook_dim is not None and self.codebook_dim < 1:
            raise ValueError(f"codebook_dim must be None or >= 1, got {self.codebook_dim}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay}")
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")
        if self.kmeans_iters < 0:
            raise ValueError(f"kmeans_iters must be >= 0, got {self.kmeans_iters}")
