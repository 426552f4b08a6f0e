"""Models are told apart by a fingerprint of weights + config, not by ``model_id``: decode
refuses tokens of another model, encode re-checks existing outputs against the model and the
input, and an export whose weights do not match its config.json is refused. Every refusal is
one ``error:`` line, and nothing is written or overwritten."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from codec.lm.export import export_tokens
from codec.lm.shards import TokenShards, read_shard_manifest
from codec.model import Codec
from codec.pretrained import fingerprint
from codec.tokens import Tokens
from tests.cli.conftest import cli, write

from .helpers import edit, one_error, snapshot, unchanged


def test_fingerprint_is_content_not_name(twins: dict[str, Path]) -> None:
    a, b = Codec.from_pretrained(twins["a"]), Codec.from_pretrained(twins["b"])
    assert a.config == b.config and a.fingerprint != b.fingerprint
    assert a.fingerprint == Codec.from_pretrained(twins["a"]).fingerprint  # deterministic
    assert a.fingerprint == fingerprint(a.state_dict(), a.config)
    saved = json.loads((twins["a"] / "config.json").read_text())
    assert saved["fingerprint"] == a.fingerprint
    before = a.fingerprint
    with torch.no_grad():
        next(a.parameters()).add_(1.0)  # the cache notices in-place updates
    assert a.fingerprint != before
    a.encode(torch.zeros(1, 800), 16000)
    assert Codec.from_pretrained(twins["b"]).fingerprint == b.fingerprint  # inference keeps it


def test_decode_refuses_another_models_tokens(
    tok: Path, twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Same config and model_id, other weights: refused unless --allow-model-mismatch."""
    out = tmp_path / "out"
    out.mkdir()
    args = ["decode", tok, "-o", out / "a.wav", "-m", twins["b"]]
    code, _, err = cli(capsys, *args)
    assert code == 1
    one_error(err, "a.tok", "another model", "--allow-model-mismatch")
    assert snapshot(out) == {}
    code, _, err = cli(capsys, *args, "--allow-model-mismatch")
    assert code == 0 and "error" not in err and (out / "a.wav").exists()


def test_old_tokens_use_the_model_id(
    tok: Path, twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Version-1 files carry no fingerprint: the model id decides, as before."""
    other = tmp_path / "other" / "a.tok"
    other.parent.mkdir()
    shutil.copy(tok, other)
    edit(tok, lambda h: None, version=1)
    code, _, err = cli(capsys, "decode", tok, "-o", tmp_path / "b.wav", "-m", twins["b"])
    assert code == 0, err
    edit(other, lambda h: h.update(model_id="other-xx"), version=1)
    code, _, err = cli(capsys, "decode", other, "-o", tmp_path / "c.wav", "-m", twins["b"])
    assert code == 1 and not (tmp_path / "c.wav").exists()
    one_error(err, "a.tok", "'other-xx'")
    args = ["decode", other, "-o", tmp_path / "d.wav", "-m", twins["b"], "--allow-model-mismatch"]
    code, _, err = cli(capsys, *args)
    assert code == 0 and (tmp_path / "d.wav").exists(), err


def _encode(capsys: pytest.CaptureFixture, src: Path, out: Path, model: Path, *more: object):
    return cli(capsys, "encode", src, "-o", out, "-m", model, *more)


def test_encode_redoes_nothing_up_to_date(
    twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "in"
    write(src / "a.wav", 1600)
    write(src / "b.wav", 2000, seed=1)
    assert _encode(capsys, src, tmp_path / "out", twins["a"])[0] == 0
    before = snapshot(tmp_path / "out")
    code, _, err = _encode(capsys, src, tmp_path / "out", twins["a"])
    assert code == 0 and "skipped 2 up to date" in err
    unchanged(tmp_path / "out", before)
    assert Tokens.load(tmp_path / "out" / "a.tok").source is not None
    (src / "b.wav").unlink()  # a missing input is reported as missing, its output kept
    code, _, err = _encode(capsys, src, tmp_path / "out", twins["a"])
    assert code == 0 and "skipped 1 up to date" in err
    args = [src / "a.wav", src / "b.wav", "-o", tmp_path / "out", "-m", twins["a"]]
    code, _, err = cli(capsys, "encode", *args)
    assert code == 1
    one_error(err, "b.wav")
    assert "stale" not in err and "another input" not in err
    unchanged(tmp_path / "out", before)
    code, out, _ = cli(capsys, "info", tmp_path / "out" / "a.tok")
    assert f"fingerprint   {Codec.from_pretrained(twins['a']).fingerprint}" in out


@pytest.mark.parametrize("change", ["other model", "other input", "input edited", "old format"])
def test_encode_refuses_stale_outputs(
    change: str, twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Outputs by another model, from another input of the same name, from an input edited
    since, or in the old format (which cannot tell) are not "up to date": error, untouched."""
    src = write(tmp_path / "in" / "a.wav", 1600)
    out = tmp_path / "out"
    assert _encode(capsys, tmp_path / "in", out, twins["a"])[0] == 0
    model, words = twins["a"], "made from another input"
    if change == "other model":
        model, words = twins["b"], "made by another model"
    elif change == "other input":
        src.unlink()
        write(tmp_path / "in" / "a.flac", 1600, seed=3, format="FLAC")
    elif change == "input edited":
        write(src, 1600, seed=4)
        os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    else:
        edit(out / "a.tok", lambda h: None, version=1)
        words = "without a model fingerprint"
    before = snapshot(out)
    code, _, err = _encode(capsys, tmp_path / "in", out, model)
    assert code == 1
    one_error(err, "a.tok", words, "--force")
    unchanged(out, before)
    code, _, err = _encode(capsys, tmp_path / "in", out, model, "--force")
    assert code == 0, err
    assert Tokens.load(out / "a.tok").model_fingerprint == Codec.from_pretrained(model).fingerprint


def test_mixed_export_is_refused(
    twins: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """b's weights under a's config.json (which records a's fingerprint): refused on load."""
    mixed = tmp_path / "mixed"
    shutil.copytree(twins["a"], mixed)
    shutil.copy(twins["b"] / "model.safetensors", mixed / "model.safetensors")
    wav = write(tmp_path / "x.wav", 1600)
    code, _, err = _encode(capsys, wav, tmp_path / "x.tok", mixed)
    assert code == 2 and not (tmp_path / "x.tok").exists()
    one_error(err, "records model fingerprint", "re-export")
    with pytest.raises(ValueError, match="records model fingerprint"):
        Codec.from_pretrained(mixed)


def test_shards_carry_the_fingerprint(twins: dict[str, Path], tmp_path: Path) -> None:
    codec = Codec.from_pretrained(twins["a"])
    write(tmp_path / "in" / "a.wav", 1600)
    export_tokens(codec, tmp_path / "in", tmp_path / "shards")
    assert read_shard_manifest(tmp_path / "shards")["model_fingerprint"] == codec.fingerprint
    tokens = TokenShards(tmp_path / "shards").tokens(0)
    assert tokens.model_fingerprint == codec.fingerprint
    with pytest.raises(ValueError, match="another model"):
        tokens.check_made_by(codec.config.model_id, Codec.from_pretrained(twins["b"]).fingerprint)
    other = Codec.from_pretrained(twins["b"])
    with pytest.raises(ValueError, match="model_fingerprint"):
        export_tokens(other, tmp_path / "in", tmp_path / "shards")  # no silent resume
