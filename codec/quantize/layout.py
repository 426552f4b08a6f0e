"""QuantizerLayout: how a quantizer's code streams are arranged (serialized with tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["QuantizerLayout"]


@dataclass(frozen=True)
class QuantizerLayout:
    """How the K = groups * num_levels code streams of ``[B, K, T]`` are arranged (group-major:
    stream ``g * num_levels + l`` is level ``l`` of group ``g``). Serialized as ``groups``,
    ``levels``, ``codebook_size``."""

    groups: int
    num_levels: int
    codebook_size: int

    @property
    def num_codebooks(self) -> int:
        return self.groups * self.num_levels

    def to_dict(self) -> dict[str, int]:
        return {
            "groups": self.groups,
            "levels": self.num_levels,
            "codebook_size": self.codebook_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizerLayout:
        keys = {"groups", "levels", "codebook_size"}
        if not isinstance(data, dict) or set(data) != keys:
            raise ValueError(f"layout must be a mapping with keys {sorted(keys)}, got {data!r}")
        for key in sorted(keys):
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"layout '{key}' must be a positive integer, got {value!r}")
        return cls(
            groups=data["groups"], num_levels=data["levels"], codebook_size=data["codebook_size"]
        )
