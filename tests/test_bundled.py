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


# -- the shipped default model ------------------------------------------------------------------
VAL = sorted((Path(__file__).resolve().parents[1] / "assets/speech/val").glob("*.flac"))


def test_the_default_model_ships_small_with_a_model_card() -> None:
    folder = bundled.bundled_path(bundled.DEFAULT_MODEL)
    assert folder is not None, "the default model is missing from codec/bundled/"
    assert (folder / "model.safetensors").stat().st_size <= 10 * 2**20
    card = (folder / "README.md").read_text()
    assert "How it was trained" in card and "Measured quality" in card
    model = load_model(bundled.DEFAULT_MODEL)
    assert model.config.model_id == bundled.DEFAULT_MODEL and model.config.causal
    assert next(model.parameters()).dtype == torch.float32


def test_default_model_streams_exactly_like_offline_on_real_speech() -> None:
    """Codebooks fitted to speech (no near-ties as in random models): identical codes, audio
    within 1e-5, chunk sizes that do not align with frames."""
    import soundfile as sf

    from tests.conftest import stream_chunks

    torch.set_num_threads(1)
    model = load_model(bundled.DEFAULT_MODEL)
    wav = torch.from_numpy(sf.read(VAL[0], dtype="float32")[0])[None, None]
    codes, audio = stream_chunks(model, wav, [1000, 333, 4800, 17])
    tokens = model.encode(wav, model.sample_rate)
    assert torch.equal(codes, tokens.codes)
    torch.testing.assert_close(audio, model.decode(tokens), atol=1e-5, rtol=0)
    used = [c.unique().numel() for c in tokens.codes[0]]
    assert min(used) > 10  # a live model: every codebook varies over one utterance


def test_cli_uses_the_default_model_without_model_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.conftest import cli

    code, _, err = cli(capsys, "encode", VAL[0], "-o", tmp_path / "tok", "-q")
    assert code == 0, err
    (tok,) = (tmp_path / "tok").glob("*.tok")
    code, _, err = cli(capsys, "decode", tok, "-o", tmp_path / "wav", "-q")
    assert code == 0, err
    assert list((tmp_path / "wav").glob("*.wav"))
