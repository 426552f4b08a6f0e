"""A model whose config.json holds a wrong-typed or out-of-range value: every command that loads
it stops with one ``error:`` line naming the key (no traceback), and writes nothing."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from codec.config import CodecConfig
from codec.config_check import RANGES
from codec.model import Codec
from tests.cli.conftest import cli, write
from tests.conftest import tiny_config


def leaf_fields(cls: type = CodecConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, declared type)`` of every non-dataclass field of the model schema."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from leaf_fields(hint, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            yield f"{prefix}{f.name}", hint


FIELDS = dict(leaf_fields())


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    Codec(tiny_config()).eval().save_pretrained(root / "m")
    return root / "m"


def with_value(saved: Path, dest: Path, key: str, value: Any) -> Path:
    """A copy of the model ``saved`` whose config.json sets ``key`` (dotted) to ``value``."""
    dest.mkdir()
    meta = json.loads((saved / "config.json").read_text())
    node = meta["config"]
    *parents, name = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = value
    (dest / "config.json").write_text(json.dumps(meta))
    (dest / "model.safetensors").write_bytes((saved / "model.safetensors").read_bytes())
    return dest


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_every_field_is_covered() -> None:
    assert len(FIELDS) > 50  # the walk found the nested blocks, not only the top level
    assert "quantizer.codebook.codebook_dim" in FIELDS


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_wrong_type_names_the_key(
    key: str, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value: Any = 5 if FIELDS[key] is str else "abc"
    model = with_value(saved, tmp_path / "m", key, value)
    code, out, err = cli(capsys, "info", model)
    assert code == 1 and not out
    line = one_error(err)
    assert f"'{key}'" in line and repr(value) in line


@pytest.mark.parametrize("key", sorted(RANGES))
def test_out_of_range_names_the_key(
    key: str, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bounds = RANGES[key]
    bad = bounds.low - 1 if bounds.low is not None else bounds.high + 1  # type: ignore[operator]
    value: Any = [bad] if typing.get_origin(FIELDS[key]) is tuple else bad
    if FIELDS[key] is float or float in typing.get_args(FIELDS[key]):
        value = float(bad)
    model = with_value(saved, tmp_path / "m", key, value)
    code, _, err = cli(capsys, "info", model)
    assert code == 1
    assert f"'{key}' must be" in one_error(err)


@pytest.mark.parametrize(
    ("key", "value"),
    [("quantizer.codebook.codebook_dim", "abc"), ("sample_rate", -16000), ("seanet.ratios", "x")],
)
def test_encode_and_export_refuse_the_model(
    key: str, value: Any, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = with_value(saved, tmp_path / "m", key, value)
    wav = write(tmp_path / "a.wav")
    before = wav.read_bytes()
    code, _, err = cli(capsys, "encode", wav, "-o", tmp_path / "out", "-m", model)
    assert code == 2 and f"'{key}'" in one_error(err)
    code, _, err = cli(capsys, "export-tokens", wav, "-o", tmp_path / "shards", "-m", model)
    assert code == 2 and f"'{key}'" in one_error(err)
    assert wav.read_bytes() == before
    assert not any((tmp_path / "out").glob("*.tok")) and not (tmp_path / "shards").exists()


def test_none_and_valid_values_still_load(saved: Path, tmp_path: Path) -> None:
    model = with_value(saved, tmp_path / "m", "quantizer.codebook.codebook_dim", None)
    assert Codec.from_pretrained(model).config.quantizer.codebook.codebook_dim is None
    data = tiny_config().to_dict()
    assert CodecConfig.from_dict(json.loads(json.dumps(data))) == tiny_config()


@pytest.mark.parametrize(
    ("key", "value"), [("lr_g", -1e-4), ("lr_g", float("nan")), ("lr_d", -1.0)]
)
def test_training_learning_rates_name_the_key(key: str, value: float) -> None:
    from codec.lightning.config import OptimConfig

    with pytest.raises(ValueError, match=f"config key 'optim.{key}' must be"):
        OptimConfig(**{key: value})
