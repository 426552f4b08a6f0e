"""``recipes/demo/bundle_model.py``: ship a trained model as a bfloat16 bundled folder."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

import codec.bundled as bundled
from codec.loading import load_model
from tests.conftest import load_script, make_codec

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "bundle_model.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script(SCRIPT, "bundle_model")


def run(script: ModuleType, *args: object) -> int:
    return int(script.main([str(a) for a in args]))


def test_bundles_in_bfloat16_keeps_the_card_and_replaces_only_with_force(
    script: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "bundled"
    first, second = tmp_path / "first", tmp_path / "second"
    make_codec(seed=1).save_pretrained(first)
    make_codec(seed=2).save_pretrained(second)
    card = tmp_path / "card.md"
    card.write_text("# tiny\nTrained for a test.\n")
    assert run(script, first, "--name", "tiny", "--root", root, "--card", card) == 0
    dest = root / "tiny"
    assert (dest / "README.md").read_text() == card.read_text()
    assert "tiny: " in capsys.readouterr().out
    monkeypatch.setattr(bundled, "BUNDLED_ROOT", root)
    shipped = load_model("tiny")  # by name, from the bundled root; fingerprint checked
    assert shipped.config.model_id == "tiny"  # token files record the name it ships under
    want = make_codec(seed=1).state_dict()
    for name, value in shipped.state_dict().items():
        expected = (
            want[name].to(torch.bfloat16).to(value.dtype)
            if value.is_floating_point()
            else want[name]
        )
        assert torch.equal(value, expected), name

    assert run(script, second, "--name", "tiny", "--root", root) == 1
    assert "exists (pass --force to replace it)" in capsys.readouterr().err
    assert run(script, second, "--name", "tiny", "--root", root, "--force") == 0
    replaced = load_model(dest)
    assert replaced.fingerprint != shipped.fingerprint
    assert (dest / "README.md").read_text() == card.read_text()  # the card stays
    assert sorted(p.name for p in root.iterdir()) == ["tiny"]  # no staging left behind


def test_bad_input_is_one_line_and_leaves_the_shipped_model(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "bundled"
    make_codec(seed=1).save_pretrained(tmp_path / "good")
    assert run(script, tmp_path / "good", "--name", "tiny", "--root", root) == 0
    before = (root / "tiny" / "model.safetensors").read_bytes()
    capsys.readouterr()
    for args in (
        (tmp_path / "missing", "--name", "tiny", "--root", root, "--force"),
        (tmp_path / "good", "--name", "../up", "--root", root),
    ):
        assert run(script, *args) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert (root / "tiny" / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["tiny"]


def test_a_failed_swap_puts_the_old_model_back(script: ModuleType, tmp_path: Path) -> None:
    dest, old = tmp_path / "tiny", tmp_path / "old"
    dest.mkdir()
    (dest / "model.safetensors").write_bytes(b"shipped")
    with pytest.raises(FileNotFoundError):
        script.swap_in(tmp_path / "never-built", dest, old)
    assert (dest / "model.safetensors").read_bytes() == b"shipped"
    assert not old.exists()
