"""Typed items and batches, and the collate function that pads to the longest item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["AudioBatch", "AudioCollate", "AudioItem", "collate_audio"]


@dataclass
class AudioItem:
    """One example: ``wav`` ``[C, T]`` float32, ``length`` real samples (the rest is padding),
    ``index`` into the dataset's records, optional ``speaker``."""

    wav: Tensor
    length: int
    index: int
    speaker: str | None = None


@dataclass
class AudioBatch:
    """A padded batch: ``wav`` ``[B, C, T]``, ``lengths`` ``[B]`` (int64), ``indices`` ``[B]``."""

    wav: Tensor
    lengths: Tensor
    indices: Tensor
    speakers: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.wav.shape[0])

    @property
    def mask(self) -> Tensor:
        """``[B, T]`` bool, True on real samples."""
        steps = torch.arange(self.wav.shape[-1], device=self.wav.device)
        return steps[None, :] < self.lengths.to(self.wav.device)[:, None]

    def to(self, device: torch.device | str) -> AudioBatch:
        """Move tensors to ``device`` (returns a new batch)."""
        return AudioBatch(
            self.wav.to(device), self.lengths.to(device), self.indices.to(device), self.speakers
        )


@dataclass(frozen=True)
class AudioCollate:
    """Collate :class:`AudioItem` s into an :class:`AudioBatch`, padding to the longest item
    rounded up to ``pad_multiple`` samples (e.g. the hop length). ``None`` items (files the
    dataset had to skip) are dropped; an all-``None`` batch gives ``B = 0``."""

    pad_multiple: int = 1

    def __call__(self, items: Sequence[AudioItem | None]) -> AudioBatch:
        kept = [item for item in items if item is not None]
        if not kept:
            empty = torch.zeros(0, dtype=torch.long)
            return AudioBatch(torch.zeros(0, 1, 0), empty, empty.clone(), [])
        channels = {item.wav.shape[0] for item in kept}
        if len(channels) != 1:
            raise ValueError(f"items have different channel counts {sorted(channels)}")
        longest = max(item.wav.shape[-1] for item in kept)
        longest = -(-longest // self.pad_multiple) * self.pad_multiple
        wav = kept[0].wav.new_zeros(len(kept), kept[0].wav.shape[0], longest)
        for row, item in enumerate(kept):
            wav[row, :, : item.wav.shape[-1]] = item.wav
        lengths = torch.tensor([item.length for item in kept], dtype=torch.long)
        indices = torch.tensor([item.index for item in kept], dtype=torch.long)
        return AudioBatch(wav, lengths, indices, [item.speaker for item in kept])


def collate_audio(items: Sequence[AudioItem | None]) -> AudioBatch:
    """Pad :class:`AudioItem` s to the longest; see :class:`AudioCollate`."""
    return AudioCollate()(items)
