"""Loading and encoding the batches of a corpus export, for any engine that runs them.

An engine turns the records still to export into batches of :data:`Encoded` results, in input
order; :func:`codec.lm.export.export_tokens` writes them into shards. :func:`encode_locally` is
the default (a DataLoader in this process); :mod:`codec.lm.ray_export` runs the same
:func:`load_record` + :func:`encode_loaded` in Ray actors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from codec.audio import AudioError, load_audio
from codec.data.manifest import AudioRecord
from codec.model import Codec

__all__ = ["Encoded", "Engine", "encode_loaded", "encode_locally", "load_record"]

Encoded = tuple[int, np.ndarray | str, int]
"""One input's result: its index in the records, codes ``[K, T]`` or why it failed, samples."""

Engine = Callable[[Codec, Sequence[AudioRecord], int, int], Iterable[list[Encoded]]]
"""``engine(codec, records, num_codebooks, batch_size)``: the results, batch by batch, in the
order of ``records``; each batch holds ``batch_size`` consecutive records (the last fewer)."""

Loaded = tuple[int, torch.Tensor | str]


def load_record(
    path: str | os.PathLike[str], sample_rate: int, channels: int
) -> torch.Tensor | str:
    """The file's audio ``[C, T]`` at ``sample_rate`` with ``channels``, or why it failed."""
    try:
        audio = load_audio(path, sample_rate, mono=channels == 1)
    except AudioError as exc:
        return str(exc)
    wav = audio.wav
    if wav.shape[0] != channels:
        wav = wav[:1].expand(channels, -1)
    return wav


class _AudioSet(Dataset):
    """Loads each record at the model's rate and channel count; a failure yields the reason."""

    def __init__(self, records: Sequence[AudioRecord], sample_rate: int, channels: int) -> None:
        self.records, self.sample_rate, self.channels = records, sample_rate, channels

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Loaded:
        return i, load_record(self.records[i].path, self.sample_rate, self.channels)


def _collate(batch: list[Loaded]) -> list[Loaded]:
    return batch


def encode_locally(num_workers: int = 0) -> Engine:
    """The in-process engine: audio loads in ``num_workers`` DataLoader workers, the model
    runs where ``codec`` is."""

    def run(
        codec: Codec, records: Sequence[AudioRecord], k: int, batch_size: int
    ) -> Iterator[list[Encoded]]:
        loader = DataLoader(
            _AudioSet(records, codec.sample_rate, codec.channels),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=_collate,
            pin_memory=codec.device.type == "cuda",
        )
        for batch in loader:
            yield encode_loaded(codec, batch, k)

    return run


def encode_loaded(codec: Codec, batch: Sequence[Loaded], k: int) -> list[Encoded]:
    """Encode the loadable, long-enough items of ``batch`` (index, audio ``[C, T]`` or why it
    failed) as one padded batch; every item comes back, in order, with codes or a reason."""
    results: dict[int, Encoded] = {}
    good: list[tuple[int, torch.Tensor]] = []
    for i, wav in batch:
        if isinstance(wav, torch.Tensor) and wav.shape[-1] < codec.hop_length:
            wav = f"shorter than one frame ({wav.shape[-1]} < {codec.hop_length} samples)"
        if isinstance(wav, str):
            results[i] = (i, wav, 0)
        else:
            good.append((i, wav))
    if good:
        lengths = torch.tensor([w.shape[-1] for _, w in good])
        wav = torch.zeros(len(good), good[0][1].shape[0], int(lengths.max()))
        for j, (_, w) in enumerate(good):
            wav[j, :, : w.shape[-1]] = w
        tokens = codec.encode(wav, codec.sample_rate, lengths, num_codebooks=k)
        codes = tokens.codes.cpu().numpy()
        for j, (i, _) in enumerate(good):
            frames, samples = int(tokens.lengths[j]), int(tokens.num_samples[j])
            results[i] = (i, codes[j, :, :frames], samples)
    return [results[i] for i, _ in batch]
