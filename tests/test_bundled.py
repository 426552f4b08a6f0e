"""Bundled models: lookup by name, loading through ``load_model`` and the CLI default."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import codec.bundled as bundled
from codec.loading import load_model
from tests.conftest import make_codec


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundled-models root holding one tiny model, ``tiny-shipped``."""
    make_codec(seed=3).save_pretrained(tmp_path / "tiny-shipped")
    (tmp_path / "incomplete").mkdir()
    (tmp_path / "incomplete" / "config.json").write_text("{}")
    monkeypatch.setattr(bundled, "BUNDLED_ROOT", tmp_path)
    return tmp_path


def test_lookup_lists_complete_models_only(shipped: Path) -> None:
    assert bundled.bundled_models() == ["tiny-shipped"]
    assert bundled.bundled_path("tiny-shipped") == shipped / "tiny-shipped"
    for bad in ("incomplete", "", "../tiny-shipped", ".hidden", "a/b", "missing"):
        assert bundled.bundled_path(bad) is None


def test_load_model_by_name_and_local_paths_win(
    shipped: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model("tiny-shipped")
    ref = make_codec(seed=3)
    for name, value in ref.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    # a folder of the same name in the working directory is what the user means
    cwd = tmp_path_factory.mktemp("cwd")
    make_codec(seed=4).save_pretrained(cwd / "tiny-shipped")
    monkeypatch.chdir(cwd)
    local = load_model("tiny-shipped")
    other = make_codec(seed=4).state_dict()
    assert all(torch.equal(local.state_dict()[k], v) for k, v in other.items())
    assert any(not torch.equal(model.state_dict()[k], v) for k, v in other.items())


def test_unknown_name_lists_the_bundled_models(shipped: Path) -> None:
    with pytest.raises(ValueError, match="no such model.*tiny-shipped"):
        load_model("not-a-model")
