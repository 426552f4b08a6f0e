"""Two training steps of the faithful HiFi-Codec experiment, shrunk by overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codec.lightning.run import run_training
from codec.model import Codec
from tests.lightning.conftest import compose_config

pytestmark = pytest.mark.slow

#: the faithful experiment's recipe with tiny widths (hop 320 kept)
TINY = (
    "experiment=hificodec_16k_2kbps_faithful",
    "trainer=cpu",
    "logger=none",
    "model.hifigan.dimension=16",
    "model.hifigan.encoder_filters=8",
    "model.hifigan.decoder_filters=64",
    "model.hifigan.resblock_kernel_sizes=[3]",
    "model.hifigan.resblock_dilations=[1]",
    "model.quantizer.codebook_size=16",
    "discriminator.filters=2",
    "data.frames_per_crop=4",
    "data.batch_size=2",
    "data.val_items=1",
    "data.val_max_seconds=0.5",
    "trainer.max_steps=2",
    "trainer.val_every=2",
    "trainer.checkpoint_every=2",
    "trainer.log_every=1",
    "trainer.progress=false",
)


def test_faithful_recipe_composes_as_published() -> None:
    cfg = compose_config("experiment=hificodec_16k_2kbps_faithful")
    assert cfg.model.architecture == "hifigan" and cfg.model.hifigan.ratios == [8, 5, 4, 2]
    assert cfg.model.quantizer.codebook.ema is False
    assert list(cfg.discriminator.names) == ["hifigan_mpd", "hifigan_msd", "msstft"]
    assert cfg.loss.adversarial == "lsgan" and cfg.loss.mel == 45.0


def test_two_steps_train_and_export(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_training(compose_config(*TINY, f"run_dir={run_dir}"), None)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2
    codec = Codec.from_pretrained(run_dir / "export")
    assert codec.config.architecture == "hifigan" and codec.hop_length == 320
    fresh = Codec(codec.config)
    moved = [
        name
        for name, p in codec.quantizer.named_parameters()
        if not torch.equal(p, dict(fresh.quantizer.named_parameters())[name])
    ]
    assert moved, "gradient-trained codebooks must move"
    tokens = codec.encode(torch.randn(1, 1, 960), 16000)
    assert codec.decode(tokens).shape == (1, 1, 960)
