"""Package attributes loaded on first use (``codec`` and ``codec.quantize`` stay cheap to
import: the schema and ``import codec`` must not pull in torch)."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any


def export_from(
    namespace: dict[str, Any], package: str, name: str, modules: Iterable[ModuleType]
) -> Any:
    """``name`` from the first of ``modules`` defining it, stored in the package's
    ``namespace`` so that later lookups find it without calling ``__getattr__`` again."""
    for module in modules:
        if name in vars(module):
            namespace[name] = vars(module)[name]
            return namespace[name]
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def names(namespace: dict[str, Any], exported: Iterable[str]) -> list[str]:
    """``dir()`` of a lazy package: what is loaded plus what it exports."""
    return sorted(set(namespace) | set(exported))
