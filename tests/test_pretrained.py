import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from codec.config import CodecConfig
from codec.model import Codec
from codec.pretrained import (
    CONFIG_NAME,
    LATER_KEYS,
    check_state_dict,
    fingerprint,
    model_card,
    read_config,
    save_pretrained,
    write_config,
)
from tests.conftest import make_codec, mode, tiny_config


def test_config_round_trip_and_errors(tmp_path: Path) -> None:
    config = tiny_config(groups=1)
    path = write_config(tmp_path / CONFIG_NAME, config)
    assert read_config(path) == config
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "format_version": 9}))
    with pytest.raises(ValueError, match="unsupported format_version 9"):
        read_config(path)
    path.write_text(json.dumps({**meta, "format": "x"}))
    with pytest.raises(ValueError, match="not a codec model config"):
        read_config(path)
    with pytest.raises(ValueError, match="cannot read model config"):
        read_config(tmp_path / "missing.json")


def test_save_pretrained_writes_three_files(tmp_path: Path) -> None:
    codec = make_codec()
    out = save_pretrained(codec, codec.config, tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", CONFIG_NAME, "model.safetensors"]
    assert (out / "README.md").read_text() == model_card(codec.config)
    assert "tiny-test" in model_card(codec.config)


def test_check_state_dict() -> None:
    expected = {"a": torch.zeros(2), "b": torch.zeros(3)}
    check_state_dict(expected, {"a": torch.ones(2), "b": torch.ones(3)}, "w")
    with pytest.raises(ValueError, match=r"missing: \['b'\].*unexpected: \['c'\]"):
        check_state_dict(expected, {"a": torch.ones(2), "c": torch.ones(3)}, "w")
    with pytest.raises(ValueError, match=r"'b' has shape \(4,\)"):
        check_state_dict(expected, {"a": torch.ones(2), "b": torch.ones(4)}, "w")


def test_export_respects_the_umask(tmp_path: Path, umask: int) -> None:
    codec = make_codec()
    out = save_pretrained(codec, codec.config, tmp_path / "export")
    assert {p.name: mode(p) for p in out.iterdir()} == {
        name: {0o022: 0o644, 0o077: 0o600}[umask]
        for name in ("README.md", CONFIG_NAME, "model.safetensors")
    }


def _flat_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        name = f"{prefix}{key}"
        keys |= _flat_keys(value, f"{name}.") if isinstance(value, dict) else {name}
    return keys


def test_every_model_key_added_since_fingerprints_is_registered() -> None:
    """A new config key would change every earlier export's fingerprint (and refuse to load
    them) unless LATER_KEYS leaves it out of the hash at its earlier value."""
    before = set(json.loads((Path(__file__).parent / "data" / "config_keys_v1.json").read_text()))
    now = _flat_keys(CodecConfig().to_dict())
    assert now - before == {".".join(path) for path in LATER_KEYS}
    for path, value in LATER_KEYS.items():
        default: object = CodecConfig().to_dict()
        for key in path:
            default = default[key]  # type: ignore[index]
        assert default == value, path  # the default keeps the earlier behaviour


def test_later_keys_at_their_earlier_value_leave_the_fingerprint_as_before() -> None:
    codec = make_codec()
    old_style = codec.config.to_dict()
    for path in LATER_KEYS:  # a config from before these keys existed
        parent = old_style
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    digest = hashlib.sha256(json.dumps(old_style, sort_keys=True).encode())
    state = codec.state_dict()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous().reshape(-1)
        digest.update(f"\0{key}\0{tensor.dtype}\0{tuple(state[key].shape)}\0".encode())
        digest.update(tensor.view(torch.uint8).numpy().data)
    assert fingerprint(state, codec.config) == digest.hexdigest()[:32]
    vocoder = dataclasses.replace(
        codec.config, vocos=dataclasses.replace(codec.config.vocos, phase="vocoder")
    )
    assert fingerprint(state, vocoder) != fingerprint(state, codec.config)


def test_bfloat16_weights_load_back_with_the_recorded_fingerprint(tmp_path: Path) -> None:
    codec = make_codec()
    small = save_pretrained(codec, codec.config, tmp_path / "bf16", weights_dtype=torch.bfloat16)
    full = save_pretrained(codec, codec.config, tmp_path / "fp32")
    stored = load_file(str(small / "model.safetensors"))
    kinds = {k: v.dtype for k, v in stored.items()}
    floats = [k for k, v in codec.state_dict().items() if v.is_floating_point()]
    assert floats and all(kinds[k] == torch.bfloat16 for k in floats)
    others = [k for k, v in codec.state_dict().items() if not v.is_floating_point()]
    assert all(kinds[k] == codec.state_dict()[k].dtype for k in others)  # counters stay exact
    size = (small / "model.safetensors").stat().st_size
    assert size < 0.6 * (full / "model.safetensors").stat().st_size
    loaded = Codec.from_pretrained(small)  # checks the recorded fingerprint against the weights
    assert next(loaded.parameters()).dtype == torch.float32
    rounded = {k: v.to(torch.bfloat16).float() for k, v in codec.state_dict().items()}
    assert all(torch.equal(loaded.state_dict()[k], rounded[k]) for k in floats)
    assert json.loads((small / CONFIG_NAME).read_text())["fingerprint"] == loaded.fingerprint
    assert loaded.fingerprint != codec.fingerprint  # other weights, other fingerprint


def test_weights_dtype_must_be_floating_point(tmp_path: Path) -> None:
    codec = make_codec()
    with pytest.raises(ValueError, match="floating-point dtype, got torch.int8"):
        save_pretrained(codec, codec.config, tmp_path / "m", weights_dtype=torch.int8)
