"""``TokenShardDataset``: LM-ready id sequences from exported token shards (memory-mapped).

Each item is a dict::

    ids         LongTensor [L] (flat layouts) or [K, L] (parallel / delay / ar_nar)
    index       int, the utterance's position in the shard manifest
    start       int, first frame of the crop
    num_frames  int, frames in the crop

:meth:`TokenShardDataset.collate` pads ``ids`` along the last axis with the PAD id and adds
``mask`` (bool ``[B, L]``, True on real positions) and ``lengths`` ``[B]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from codec.lm.shards import TokenShards
from codec.lm.vocab import Vocabulary
from codec.tokens import Tokens

__all__ = ["TokenShardDataset", "collate_sequences"]


class TokenShardDataset(Dataset):
    """LM sequences over a shard directory written by :func:`~codec.lm.export.export_tokens`
    (or several: see :class:`~codec.lm.shards.TokenShards`).

    ``layout``: a name from :data:`~codec.lm.vocab.LAYOUTS`, or a ready :class:`Vocabulary`
    (whose codec facts must match the shards). ``max_frames`` crops longer utterances: at a
    random start when ``random_crop`` (the DataLoader seeds each worker), else from frame 0.
    ``num_codebooks`` keeps the first levels of each group. ``min_frames`` drops shorter items.
    """

    def __init__(
        self,
        shard_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        layout: str | Vocabulary = "delay",
        max_frames: int | None = None,
        add_bos_eos: bool = True,
        random_crop: bool = True,
        num_codebooks: int | None = None,
        min_frames: int = 1,
        **vocab_kwargs: Any,
    ) -> None:
        self.shards = TokenShards(shard_dir)
        m = self.shards.manifest
        self.groups = int(m["groups"])
        stored = self.shards.num_codebooks
        k = stored if num_codebooks is None else num_codebooks
        if not 0 < k <= stored or k % self.groups:
            raise ValueError(
                f"num_codebooks must be a multiple of groups={self.groups} in [1, {stored}], got {k}"
            )
        self._rows = _kept_rows(stored, self.groups, k)
        facts = {**m, "num_codebooks": k}
        if isinstance(layout, Vocabulary):
            vocab = layout
            expected = Vocabulary.for_codec(facts, layout=vocab.layout)
            for key in ("codebook_size", "num_codebooks", "groups"):
                if getattr(vocab, key) != getattr(expected, key):
                    raise ValueError(
                        f"vocabulary {key}={getattr(vocab, key)} does not match the shards "
                        f"({getattr(expected, key)})"
                    )
        else:
            vocab = Vocabulary.for_codec(facts, layout=layout, **vocab_kwargs)
        self.vocab = vocab
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.max_frames, self.add_bos_eos, self.random_crop = max_frames, add_bos_eos, random_crop
        self.indices = [i for i, it in enumerate(self.shards.items) if it.num_frames >= min_frames]

    @property
    def pad_id(self) -> int:
        return self.vocab.pad_id

    def __len__(self) -> int:
        return len(self.indices)

    def codes(self, i: int, start: int = 0, num_frames: int | None = None) -> Tensor:
        """Codes ``[K, T]`` (long) of dataset item ``i``, optionally a crop."""
        raw = self.shards.codes(self.indices[i], start, num_frames)
        return torch.from_numpy(np.asarray(raw[self._rows]).astype(np.int64))

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        length = self.shards.items[self.indices[i]].num_frames
        n = length if self.max_frames is None else min(length, self.max_frames)
        start = 0
        if self.random_crop and length > n:
            start = int(torch.randint(0, length - n + 1, ()).item())
        codes = self.codes(i, start, n)
        ids = self.vocab.encode(codes, add_bos_eos=self.add_bos_eos)
        return {"ids": ids, "index": self.indices[i], "start": start, "num_frames": n}

    def decode(self, ids: Tensor, strict: bool = True) -> Tensor:
        """An item's (unpadded) ``ids`` -> codes ``[K, T]``."""
        return self.vocab.decode(ids, strict=strict)

    def to_tokens(self, codes: Tensor, num_samples: int | None = None) -> Tokens:
        """Codes ``[K, T]`` (e.g. decoded from LM samples) -> ``Tokens`` for ``codec.decode``.

        ``num_samples`` defaults to ``T * hop`` (the full frames)."""
        m = self.shards.manifest
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.dim() != 2 or codes.shape[0] != self.vocab.num_codebooks:
            raise ValueError(
                f"codes must be [{self.vocab.num_codebooks}, T], got {tuple(codes.shape)}"
            )
        hop = round(int(m["sample_rate"]) / float(m["frame_rate"]))
        samples = codes.shape[1] * hop if num_samples is None else num_samples
        return Tokens(
            codes=codes[None],
            lengths=torch.tensor([codes.shape[1]]),
            num_samples=torch.tensor([samples]),
            sample_rate=int(m["sample_rate"]),
            frame_rate=float(m["frame_rate"]),
            codebook_size=self.vocab.codebook_size,
            groups=self.groups,
            model_id=str(m["model_id"]),
            model_fingerprint=str(m.get("model_fingerprint", "")),
        )

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        """Pad with the PAD id; see :func:`collate_sequences`."""
        return collate_sequences(batch, self.pad_id)


def collate_sequences(batch: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Stack items' ``ids`` (``[L]`` or ``[K, L]``) padded at the end with ``pad_id``.

    Returns ``ids`` ``[B, L]`` / ``[B, K, L]``, ``mask`` bool ``[B, L]`` (True = real),
    ``lengths`` ``[B]`` and the other per-item fields as LongTensors.
    """
    if not batch:
        raise ValueError("cannot collate an empty batch")
    seqs = [item["ids"] for item in batch]
    lengths = torch.tensor([s.shape[-1] for s in seqs])
    width = int(lengths.max())
    ids = torch.full((len(seqs), *seqs[0].shape[:-1], width), pad_id, dtype=torch.long)
    for b, s in enumerate(seqs):
        if s.shape[:-1] != seqs[0].shape[:-1]:
            raise ValueError(
                f"items have different stream counts: {tuple(s.shape)} vs {tuple(seqs[0].shape)}"
            )
        ids[b, ..., : s.shape[-1]] = s
    out: dict[str, Any] = {
        "ids": ids,
        "mask": torch.arange(width)[None, :] < lengths[:, None],
        "lengths": lengths,
    }
    for key in batch[0]:
        if key != "ids":
            out[key] = torch.tensor([item[key] for item in batch])
    return out


def _kept_rows(stored: int, groups: int, k: int) -> list[int]:
    """Rows of the first ``k // groups`` levels of each group (group-major)."""
    levels, keep = stored // groups, k // groups
    return [g * levels + lvl for g in range(groups) for lvl in range(keep)]
