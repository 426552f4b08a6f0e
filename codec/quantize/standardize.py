"""RunningStandardizer: the quantizer works on per-channel standardized latents.

An encoder at initialisation emits a latent that is almost a constant vector (its biases) plus
frame-to-frame variations hundreds of times smaller, and both the offset and the scale drift
fast while it learns. Codebooks fitted to yesterday's latent then sit beside today's, a few codes
take every frame, and the decoder sees an almost constant input. Quantizing
``(x - mean) / std`` with running statistics (like BatchNorm without affine, statistics never
back-propagated) removes both effects: the codes, the k-means fit and the decoder's input keep
unit scale whatever the encoder does. At inference the statistics are frozen, a per-channel
affine map: stateless, so streaming is unaffected. Codes decode to vectors in the standardized
space, which is what the decoder was trained on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from codec.quantize.distributed import World, all_reduce_sum_

#: EMA decay of the running statistics: tracks a drifting encoder within tens of steps
STANDARDIZE_DECAY = 0.95
EPS = 1e-8  # far below the variance of a freshly initialised encoder (~1e-5)


def weighted_moments(x: Tensor, weights: Tensor | None) -> Tensor:
    """[sum w x (D), sum w x^2 (D), sum w (1)] of the rows of ``x`` [N, D] -> [2D + 1]."""
    w = torch.ones(x.shape[0], 1, device=x.device) if weights is None else weights.unsqueeze(1)
    return torch.cat([(w * x).sum(0), (w * x * x).sum(0), w.sum(0)])


def moments_to_stats(moments: Tensor) -> tuple[Tensor, Tensor]:
    """(mean [D], variance [D]) from :func:`weighted_moments` sums (at least one row)."""
    dim = (moments.shape[0] - 1) // 2
    n = moments[-1].clamp_min(1.0)
    mean = moments[:dim] / n
    return mean, (moments[dim : 2 * dim] / n - mean * mean).clamp_min(0.0)


class RunningStandardizer(nn.Module):
    """Per-channel running ``mean`` / ``var`` [D] of the quantizer input; ``forward`` maps
    ``x`` [N, D] to ``(x - mean) / sqrt(var + eps)`` with the statistics detached."""

    def __init__(self, dim: int, decay: float = STANDARDIZE_DECAY) -> None:
        super().__init__()
        self.dim, self.decay = dim, decay
        self.mean: Tensor
        self.var: Tensor
        self.initialized: Tensor
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("initialized", torch.tensor(False))
        self._initialized = False  # host mirror: the hot path never syncs

    @property
    def numel(self) -> int:
        """Floats this module needs in the step's flat all-reduce buffer."""
        return 2 * self.dim + 1

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) * torch.rsqrt(self.var + EPS)

    def init_from(self, x: Tensor, weights: Tensor | None, world: World) -> None:
        """Statistics of all ranks' first batch (two all-reduces, once per training run: the
        mean first, so the variance is summed around it without cancellation)."""
        with torch.no_grad():
            moments = weighted_moments(x, weights)
            all_reduce_sum_(moments, world)
            if moments[-1].item() <= 0:  # an all-padding batch waits for the next one
                return
            self.mean.copy_(moments_to_stats(moments)[0])
            centred = weighted_moments(x - self.mean, weights)
            all_reduce_sum_(centred, world)
            self.var.copy_(moments_to_stats(centred)[1])
            self.initialized.fill_(True)
        self._initialized = True

    @property
    def is_initialized(self) -> bool:
        return self._initialized

    def accumulate(self, out: Tensor, x: Tensor, weights: Tensor | None) -> None:
        """Write this rank's moments of the raw input ``x`` [N, D] into ``out`` [2D + 1],
        taken around the running mean (the same on every rank) to avoid cancellation."""
        with torch.no_grad():
            out.copy_(weighted_moments(x.detach() - self.mean, weights))

    def update(self, moments: Tensor) -> None:
        """EMA step towards the (all-reduced) batch statistics from :meth:`accumulate`;
        no-op for an empty batch."""
        with torch.no_grad():
            shifted_mean, var = moments_to_stats(moments)
            mean = shifted_mean + self.mean
            step = (1.0 - self.decay) * (moments[-1] > 0).to(mean.dtype)  # 0 when empty
            self.mean.lerp_(mean, step)
            self.var.lerp_(var, step)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._initialized = bool(self.initialized)
