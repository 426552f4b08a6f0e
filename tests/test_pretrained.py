import json
from pathlib import Path

import pytest
import torch

from codec.pretrained import (
    CONFIG_NAME,
    check_state_dict,
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
