"""Shared fixtures: a tiny codec and a few short bundled speech files."""

from pathlib import Path

import pytest
import torch

from codec.audio import load_audio, save_audio
from codec.data.manifest import bundled_speech
from codec.model import Codec
from tests.conftest import make_codec

torch.set_num_threads(1)


def tiny_codec(groups: int = 2, codebook_size: int = 300, seed: int = 0) -> Codec:
    return make_codec(
        seed,
        groups=groups,
        codebook_size=codebook_size,
        ratios=(4, 4),
        model_id=f"tiny-lm-test-{groups}x{codebook_size}",
    )


@pytest.fixture
def codec() -> Codec:
    return tiny_codec()


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five bundled utterances cut to 0.3-0.7 s (keeps the tests fast), plus one too short."""
    out = tmp_path_factory.mktemp("speech")
    records = bundled_speech("train")[:5]
    for i, record in enumerate(records):
        audio = load_audio(record.path)
        n = int(audio.sample_rate * (0.3 + 0.1 * i))
        save_audio(out / f"utt{i}.wav", audio.wav[:, :n], audio.sample_rate)
    return out
