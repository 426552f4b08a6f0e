"""Gradient accumulation under manual optimisation: which batch ends a window, how many
batches gave gradients, and their mean."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn


class GradientWindow:
    """Counts the batches of one optimiser update (``size`` of them) for the generator and the
    discriminator separately: a batch whose loss is not finite adds no gradient and is not
    counted, so the update is the mean over the batches that did."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"accumulation window must be >= 1 batch, got {size}")
        self.size = size
        self.seen = 0
        self.gen_batches = 0
        self.disc_batches = 0

    def advance(self) -> bool:
        """Count one more batch; True when it is the window's last."""
        self.seen += 1
        if self.seen < self.size:
            return False
        self.seen = 0
        return True

    def mean_and_clip(
        self, model: nn.Module, counter: Literal["gen_batches", "disc_batches"], max_norm: float
    ) -> Tensor:
        """Divide ``model``'s summed gradients by the batches counted in ``counter`` (and reset
        it), clip them to ``max_norm``; the norm before clipping."""
        batches = getattr(self, counter)
        setattr(self, counter, 0)
        if batches > 1:
            for param in model.parameters():
                if param.grad is not None:
                    param.grad.div_(batches)
        return nn.utils.clip_grad_norm_(model.parameters(), max_norm).detach()
