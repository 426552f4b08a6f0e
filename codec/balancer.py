"""EnCodec's loss balancer: each loss's gradient w.r.t. the model output is normalised by an EMA
of its norm and scaled by its weight, so weights are fractions of the update, not loss scales."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass
class BalancerOutput:
    """What :meth:`GradientBalancer.balance` computed.

    Attributes:
        surrogate: scalar whose gradient w.r.t. the output is the balanced gradient: add it to
            any other loss and backpropagate once (in Lightning via ``manual_backward``).
        total: ``sum_k weight_k * loss_k`` (the unbalanced objective; detached, for logging).
        grad_norms: per loss, this rank's gradient norm this step (detached).
        ema_norms: per loss, the EMA of the rank-averaged norm used to normalise (detached).
    """

    surrogate: Tensor
    total: Tensor
    grad_norms: dict[str, Tensor]
    ema_norms: dict[str, Tensor]


class GradientBalancer(nn.Module):
    """EnCodec's loss balancer.

    Each loss's gradient w.r.t. the model output is divided by an EMA of its norm and scaled
    by its share ``w_k / sum(w)`` of ``total_norm``, so each loss moves the output in
    proportion to its weight whatever its raw scale. Under ``torch.distributed`` the norms are
    averaged across ranks with one ``all_reduce`` per step, so every rank keeps the same EMA.
    The EMA state is in buffers (saved with the checkpoint). :meth:`balance` returns a
    surrogate loss to backpropagate with the others in one backward (what DDP needs).
    """

    ema_sum: Tensor
    ema_count: Tensor

    def __init__(
        self,
        weights: Mapping[str, float],
        ema_decay: float = 0.999,
        total_norm: float = 1.0,
        per_batch_item: bool = True,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if not weights or any(w < 0 for w in weights.values()):
            raise ValueError(
                f"weights must be a non-empty mapping of non-negative floats: {weights}"
            )
        self.names = list(weights)
        self.weights = {k: float(v) for k, v in weights.items()}
        self.ema_decay, self.total_norm = ema_decay, total_norm
        self.per_batch_item, self.eps = per_batch_item, eps
        self.register_buffer("ema_sum", torch.zeros(len(self.names)))
        self.register_buffer("ema_count", torch.zeros(len(self.names)))

    def _norm(self, grad: Tensor) -> Tensor:
        if self.per_batch_item and grad.dim() > 1:
            return grad.flatten(1).norm(dim=1).mean()
        return grad.norm()

    @staticmethod
    def _grad(loss: Tensor, output: Tensor) -> Tensor:
        (grad,) = torch.autograd.grad(loss, output, retain_graph=True, allow_unused=True)
        return torch.zeros_like(output) if grad is None else grad

    def _update_ema(self, norms: Tensor) -> Tensor:
        """Average ``norms [L]`` over ranks (one all-reduce) and fold them into the EMA."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(norms, op=dist.ReduceOp.SUM)
            norms = norms / dist.get_world_size()
        self.ema_sum.mul_(self.ema_decay).add_(norms.to(self.ema_sum))
        self.ema_count.mul_(self.ema_decay).add_(1.0)
        return (self.ema_sum / self.ema_count).to(norms)

    def balance(self, losses: Mapping[str, Tensor], output: Tensor) -> BalancerOutput:
        """The balanced combination of ``losses`` as a surrogate loss; backpropagates nothing.

        Only gradients w.r.t. ``output`` are taken (``autograd.grad``), never parameter
        gradients, so the one backward of the caller's choice (e.g. through DDP) does it all.

        Args:
            losses: scalar losses, exactly the keys of ``weights``; each depends on ``output``.
            output: the model output they were computed from (e.g. ``[B, 1, T]``).
        """
        if set(losses) != set(self.names):
            raise ValueError(f"balancer expects losses {self.names}, got {sorted(losses)}")
        grads = [self._grad(losses[n], output) for n in self.names]
        norms = torch.stack([self._norm(g).detach() for g in grads])
        ema = self._update_ema(norms.clone())
        weights = torch.tensor([self.weights[n] for n in self.names], device=output.device)
        scales = self.total_norm * weights / weights.sum().clamp_min(self.eps)
        scales = (scales / (self.eps + ema)).to(output.dtype)
        out_grad = torch.zeros_like(output)
        for scale, grad in zip(scales, grads):
            out_grad.add_(grad * scale)
        total = sum(self.weights[n] * losses[n].detach() for n in self.names)
        return BalancerOutput(
            # d/d(output) of this is out_grad; output.backward(out_grad) would do the same but
            # triggers torch's slow first-call import of symbolic-shape checks.
            surrogate=(output * out_grad.detach()).sum(),
            total=torch.as_tensor(total),
            grad_norms=dict(zip(self.names, norms)),
            ema_norms=dict(zip(self.names, ema.detach())),
        )

    def backward(self, losses: Mapping[str, Tensor], output: Tensor) -> BalancerOutput:
        """:meth:`balance`, then backpropagate its surrogate (plain, non-distributed use)."""
        out = self.balance(losses, output)
        out.surrogate.backward()
        return out
