"""Weight normalisation: apply for training, remove (fold into the weight) for inference."""

from __future__ import annotations

from typing import Literal, TypeVar

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["NormType", "apply_norm", "has_weight_norm", "remove_weight_norm"]

NormType = Literal["weight_norm", "none"]
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def apply_norm(module: ModuleT, norm: str) -> ModuleT:
    """Wrap ``module.weight`` in the requested normalisation (``weight_norm`` or ``none``).

    Weight norm uses torch's parametrization (``dim=0``, as EnCodec): the state dict holds
    ``parametrizations.weight.original0`` (g) and ``original1`` (v).
    """
    if norm == "weight_norm":
        return weight_norm(module)
    if norm == "none":
        return module
    raise ValueError(f"unknown norm {norm!r}; expected 'weight_norm' or 'none'")


def has_weight_norm(module: nn.Module) -> bool:
    """Whether any submodule still carries a parametrized ``weight``."""
    return any(parametrize.is_parametrized(m, "weight") for m in module.modules())


def remove_weight_norm(module: ModuleT) -> ModuleT:
    """Fold every weight parametrization in the tree into a plain weight (in place).

    Outputs are unchanged; inference no longer recomputes ``g * v / |v|`` on each call.
    """
    # Collect first: removing a parametrization swaps the module's class while we iterate.
    targets = [m for m in module.modules() if parametrize.is_parametrized(m, "weight")]
    for m in targets:
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module
