"""Hugging Face Hub: loading ``owner/name`` from a Hub cache laid out on disk (offline, with
revisions), a local folder winning, ``--model owner/name`` under ``HF_HUB_OFFLINE``, and
``push_to_hub`` against a stand-in ``HfApi`` (no network anywhere)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
import torch
import yaml

from codec.cli import main
from codec.hub import is_hub_id
from codec.loading import load_model
from codec.model import Codec
from codec.pretrained import CardInfo
from tests.conftest import make_codec
from tests.hub_cache import cache_repo, commit_hash, folder_files

REPO = "acme/tiny-codec"


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Codec, Codec]:
    """A cache holding two commits of REPO: ``main`` -> model A, tag ``v2`` -> model B."""
    root = tmp_path_factory.mktemp("hub")
    a, b = make_codec(seed=0), make_codec(seed=1)
    cache = root / "cache"
    for name, model, refs in (("a", a, ("main",)), ("b", b, ("v2",))):
        files = folder_files(model.save_pretrained(root / name))
        cache_repo(cache, REPO, files, commit_hash(name), refs)
    assert not same_weights(a, b)
    return cache, a, b


def test_is_hub_id() -> None:
    assert is_hub_id("facebook/encodec_24khz") and is_hub_id("a-b/c.d_e")
    for spec in ("model", "a/b/c", "../x", "/abs/path", "a/..", "a/b.", "./x", "a/-b", ""):
        assert not is_hub_id(spec), spec


def test_from_pretrained_reads_the_hub_cache_offline(versions: tuple[Path, Codec, Codec]) -> None:
    cache, a, b = versions
    hub = {"cache_dir": cache, "local_files_only": True}
    assert same_weights(Codec.from_pretrained(REPO, **hub), a)  # refs/main
    assert same_weights(Codec.from_pretrained(REPO, revision="v2", **hub), b)  # a tag
    assert same_weights(Codec.from_pretrained(REPO, revision=commit_hash("b"), **hub), b)
    assert not Codec.from_pretrained(REPO, **hub).training
    with pytest.raises(
        ValueError,
        match=r"acme/tiny-codec@nope \(not a local path\): config.json is not in the local",
    ):
        Codec.from_pretrained(REPO, revision="nope", **hub)
    with pytest.raises(
        ValueError, match=r"acme/other \(not a local path\): config.json is not in the local"
    ):
        Codec.from_pretrained("acme/other", **hub)


def test_a_local_folder_wins(
    versions: tuple[Path, Codec, Codec], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, a, _ = versions
    local = make_codec(seed=5)
    local.save_pretrained(tmp_path / REPO)
    monkeypatch.chdir(tmp_path)
    loaded = Codec.from_pretrained(REPO, cache_dir=cache, local_files_only=True)
    assert same_weights(loaded, local) and not same_weights(loaded, a)


def test_missing_huggingface_hub_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(
        ValueError, match=r"needs huggingface_hub: pip install 'speech-token-codec\[hub\]'"
    ):
        Codec.from_pretrained(REPO)


def test_model_option_resolves_hub_ids_under_hf_hub_offline(
    versions: tuple[Path, Codec, Codec],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache, a, b = versions
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at call time: nothing may reach the network
    assert same_weights(load_model(REPO), a)
    assert same_weights(load_model(f"{REPO}@v2"), b)
    assert main(["info", REPO]) == 0
    assert "tiny-test" in capsys.readouterr().out
    assert main(["encode", "x.wav", "-o", "out", "--model", "acme/missing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --model acme/missing:") and "\n" not in err
    assert "offline" in err


class FakeApi:
    """Stands in for ``huggingface_hub.HfApi``: records calls, keeps the uploaded files."""

    calls: list[tuple[str, dict[str, Any]]] = []
    uploaded: dict[str, bytes] = {}

    def __init__(self, token: str | None = None) -> None:
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs: Any) -> Any:
        self.calls.append(("upload_folder", kwargs))
        FakeApi.uploaded = folder_files(Path(kwargs["folder_path"]))
        return type("CommitInfo", (), {"commit_url": "https://huggingface.co/x/commit/1"})()


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    meta: dict[str, Any] = yaml.safe_load(card.split("---\n")[1])
    return meta


def test_push_to_hub_uploads_weights_config_and_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    model = make_codec(seed=2)
    info = CardInfo(license="cc-by-4.0", datasets=("acme/speech",), training_data="10 min of X")
    url = model.push_to_hub(REPO, info, private=True, token="t0k")
    assert url == "https://huggingface.co/x/commit/1"
    names = [name for name, _ in FakeApi.calls]
    assert names == ["init", "create_repo", "upload_folder"]
    assert FakeApi.calls[0][1] == {"token": "t0k"}
    assert FakeApi.calls[1][1] == {
        "repo_id": REPO,
        "repo_type": "model",
        "exist_ok": True,
        "private": True,
    }
    upload = FakeApi.calls[2][1]
    assert upload["repo_id"] == REPO and upload["repo_type"] == "model"
    assert sorted(FakeApi.uploaded) == ["README.md", "config.json", "model.safetensors"]
    card = FakeApi.uploaded["README.md"].decode()
    meta = front_matter(card)
    cfg = model.config
    assert meta["library_name"] == "codec" and meta["license"] == "cc-by-4.0"
    assert "audio-codec" in meta["tags"] and meta["datasets"] == ["acme/speech"]
    assert meta["sample_rate"] == 16000 and meta["frame_rate"] == cfg.frame_rate == 2000
    assert meta["num_codebooks"] == 4 and meta["groups"] == 2 and meta["codebook_size"] == 32
    assert meta["bitrate_kbps"] == pytest.approx(model.bitrate() / 1000)
    assert "## Training data\n10 min of X" in card and "## Licence\ncc-by-4.0" in card
    # what was uploaded loads back as the same model
    cache_repo(tmp_path, REPO, FakeApi.uploaded, commit_hash("pushed"), ("main",))
    back = Codec.from_pretrained(REPO, cache_dir=tmp_path, local_files_only=True)
    assert same_weights(back, model)


def test_saved_card_has_metadata_without_licence(tmp_path: Path) -> None:
    model = make_codec()
    card = (model.save_pretrained(tmp_path / "m") / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "codec" and "license" not in meta
    assert meta["causal"] is True and meta["levels_per_group"] == 2
