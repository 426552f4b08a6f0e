"""Loading a codec from a training run: config.json (train.py) or a legacy config.yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

from codec.config import CodecConfig
from codec.loading import load_checkpoint, load_model, resolve_device
from codec.model import Codec
from codec.pretrained import write_config
from tests.conftest import make_codec


def fake_run(root: Path, codec: Codec, prefix: str = "codec.") -> Path:
    """A run folder as train.py leaves it: ``checkpoints/last.ckpt`` (Lightning layout)."""
    (root / "checkpoints").mkdir(parents=True)
    state = {prefix + k: v for k, v in codec.state_dict().items()}
    state["discriminator.weight"] = torch.zeros(1)  # other modules of the training run
    torch.save({"state_dict": state, "epoch": 3}, root / "checkpoints" / "last.ckpt")
    return root


def assert_same_weights(a: Codec, b: Codec) -> None:
    assert a.config == b.config
    for key, value in a.state_dict().items():
        assert torch.equal(b.state_dict()[key], value), key


def test_run_with_config_json(tmp_path: Path) -> None:
    codec = make_codec()
    run = fake_run(tmp_path / "run", codec)
    write_config(run / "config.json", codec.config)
    for spec in (run, run / "checkpoints" / "last.ckpt"):
        loaded = load_model(spec)
        assert not loaded.training
        assert_same_weights(codec, loaded)


def test_weight_ema_copy_is_preferred(tmp_path: Path) -> None:
    codec, ema = make_codec(), make_codec(seed=1)
    run = fake_run(tmp_path / "run", codec)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in ema.state_dict().items():
        ckpt["state_dict"]["weight_ema.module." + key] = value
    ckpt["state_dict"]["weight_ema.module.n_averaged"] = torch.tensor(5)
    torch.save(ckpt, run / "checkpoints" / "last.ckpt")
    write_config(run / "config.json", codec.config)
    assert_same_weights(ema, load_checkpoint(run / "checkpoints" / "last.ckpt"))


def legacy_yaml(config: CodecConfig) -> str:
    """A resolved Hydra config of an old run: ``model`` without the quantizer, beside it."""
    model = dataclasses.asdict(config)
    quantizer = model.pop("quantizer")
    model["seanet"]["ratios"] = list(model["seanet"]["ratios"])
    return yaml.safe_dump({"model": model, "quantizer": quantizer, "trainer": {"max_steps": 1}})


def test_legacy_run_with_config_yaml(tmp_path: Path) -> None:
    codec = make_codec(groups=1)
    run = fake_run(tmp_path / "run", codec)
    (run / "config.yaml").write_text(legacy_yaml(codec.config))
    assert_same_weights(codec, load_model(run))


def test_run_config_errors(tmp_path: Path) -> None:
    codec = make_codec()
    run = fake_run(tmp_path / "run", codec)
    with pytest.raises(ValueError, match="config.json not found"):
        load_model(run)
    (run / "config.yaml").write_text("model: {sample_rate: 16000}\n")
    with pytest.raises(ValueError, match="bad run config"):
        load_model(run)
    write_config(run / "config.json", make_codec(codebook_size=64).config)
    with pytest.raises(ValueError, match="shape"):
        load_model(run)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"not a checkpoint \(a text file\)"):
        load_model(run)
    torch.save({"epoch": 1}, run / "checkpoints" / "last.ckpt")
    with pytest.raises(ValueError, match="no state_dict"):
        load_model(run)


def test_specs_and_devices(tmp_path: Path) -> None:
    codec = make_codec()
    out = codec.save_pretrained(tmp_path / "export")
    empty = tmp_path / "empty"
    empty.mkdir()
    for spec in (out, out / "config.json", out / "model.safetensors"):
        assert_same_weights(codec, load_model(spec))
    with pytest.raises(ValueError, match="no such model"):
        load_model(tmp_path / "missing")
    with pytest.raises(ValueError, match="no config.json \\+ model.safetensors"):
        load_model(empty)
    with pytest.raises(ValueError, match="give the checkpoint path"):
        load_model("encodec_24khz:")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="bad device"):
        resolve_device("nonsense")
