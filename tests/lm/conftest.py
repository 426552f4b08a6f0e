"""Shared fixtures: a tiny codec and a few short bundled speech files."""

from pathlib import Path

import pytest
import torch

from codec.audio import load_audio, save_audio
from codec.config import CodecConfig, QuantizerConfig, SEANetConfig
from codec.data.manifest import bundled_speech
from codec.model import Codec

torch.set_num_threads(1)


def tiny_codec(groups: int = 2, codebook_size: int = 300, seed: int = 0) -> Codec:
    torch.manual_seed(seed)
    config = CodecConfig(
        sample_rate=16000,
        seanet=SEANetConfig(
            dimension=16,
            n_filters=4,
            ratios=(4, 4),
            causal=True,
            pad_mode="constant",
            lstm_layers=1,
        ),
        quantizer=QuantizerConfig(
            groups=groups, num_levels=2, codebook_size=codebook_size, kmeans_init=False
        ),
        model_id=f"tiny-lm-test-{groups}x{codebook_size}",
    )
    return Codec(config).eval()


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
