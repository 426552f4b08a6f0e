"""Shared test helpers: tiny codec configs and models, a chunked streaming driver, and the
``umask`` fixture.

The helpers are plain functions (importable as ``tests.conftest``) because several test
modules call them with different arguments; ``tiny_codec`` is also a fixture.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from codec.config import CodecConfig, QuantizerConfig, SEANetConfig
from codec.model import Codec
from codec.quantize import CodebookConfig


def tiny_config(
    causal: bool = True,
    pad_mode: str = "constant",
    groups: int = 2,
    codebook_size: int = 32,
    ratios: tuple[int, ...] = (4, 2),
    model_id: str = "tiny-test",
    kind: str = "vq",
) -> CodecConfig:
    """A 16 kHz codec small enough for unit tests (hop ``prod(ratios)``, 2 levels per group);
    ``kind="fsq"`` uses the 4 x 8 grid (32 codes)."""
    return CodecConfig(
        sample_rate=16000,
        seanet=SEANetConfig(
            dimension=16,
            n_filters=4,
            ratios=ratios,
            causal=causal,
            pad_mode=pad_mode,
            lstm_layers=1,
        ),
        quantizer=QuantizerConfig(
            groups=groups,
            num_levels=2,
            codebook_size=codebook_size,
            codebook=CodebookConfig(kmeans_init=False),
            kind=kind,
            fsq_levels=(4, 8) if kind == "fsq" else (),
        ),
        model_id=model_id,
    )


def make_codec(seed: int = 0, **kwargs: object) -> Codec:
    """A seeded tiny codec in eval mode; ``kwargs`` go to :func:`tiny_config`."""
    torch.manual_seed(seed)
    return Codec(tiny_config(**kwargs)).eval()  # type: ignore[arg-type]


def stream_chunks(
    codec: Codec, wav: torch.Tensor, sizes: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode then decode ``wav`` [B, C, T] chunk by chunk (``sizes`` cycled) in one session,
    flush; returns all codes [B, K, F] and all audio [B, C, T']."""
    codes, audio = [], []
    with codec.streaming(batch_size=wav.shape[0]) as session:
        start, i = 0, 0
        while start < wav.shape[-1]:
            end = min(start + sizes[i % len(sizes)], wav.shape[-1])
            new = session.encode_chunk(wav[..., start:end])
            codes.append(new.codes)
            audio.append(session.decode_chunk(new))
            start, i = end, i + 1
        tail = session.flush()
    codes.append(tail.tokens.codes)
    audio.append(tail.audio)
    return torch.cat(codes, -1), torch.cat(audio, -1)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under umask 022 and then 077 (restored afterwards); yields the mask."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: os.PathLike[str] | str) -> int:
    """The permission bits of ``path``."""
    return os.stat(path).st_mode & 0o777


def load_script(path: Path, name: str) -> ModuleType:
    """Import a recipe or bench script by path, registered as ``name`` in ``sys.modules``
    (dataclasses and pickling look a class's module up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
