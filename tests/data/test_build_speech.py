"""The bundled-speech build script's selection on a fake package tree (decoding stubbed, so
neither ffmpeg nor the Debian packages are needed)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "recipes" / "demo" / "build_speech.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load_script(SCRIPT, "build_speech")


def fake_decode(path: Path) -> tuple[np.ndarray, int]:
    """2-4 s of noise whose length and content follow the file's bytes."""
    seed = int(hashlib.sha1(path.read_bytes()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (int(16_000 * rng.uniform(2, 4)), 1)).astype(np.float32), 16_000


def fake_tree(build: ModuleType, root: Path) -> None:
    """Every voice's layout, 30 lines each; two Tux Paint stamps share one recording."""
    for voice in build.VOICES:
        for i in range(30):
            if voice.kind == "asterisk":
                path = root / build.ASTERISK / voice.select / f"prompt{i}.g722"
            elif voice.kind == "fillets":
                path = root / build.FILLETS / "lvl" / "cs" / f"lvl-{voice.select}-line{i}.ogg"
            else:
                path = root / build.TUXPAINT / "animals" / f"stamp{i}_desc_{voice.select}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{voice.speaker} {i}".encode())
    tux = root / build.TUXPAINT / "animals"
    (tux / "stamp1_desc_fr.ogg").write_bytes((tux / "stamp0_desc_fr.ogg").read_bytes())
    # the published texts: the game's Czech script, each stamp's descriptions (a Greek
    # recording spelt differently from its stamp)
    script = root / "usr/share/games/fillets-ng/script/lvl/dialogs_cs.lua"
    script.parent.mkdir(parents=True)
    lines = [
        f'dialogId("lvl-{c}-line{i}", "font", "En {i}")\ndialogStr("Věta \\"{c}{i}\\"")'
        for c in "mv"
        for i in range(29)
    ]  # line 29 has no text
    script.write_text("\n\n".join(lines), encoding="utf-8")
    for i in range(30):
        (tux / f"stamp{i}.txt").write_text(
            f"Stamp {i}\nfr.utf8=Tampon {i}.\nel.utf8=Σφραγίδα {i}\n"
        )
    (tux / "stamp29_desc_el.ogg").rename(tux / "Stamp_29_desc_el.ogg")


def run(build: ModuleType, root: Path, out: Path) -> list[dict[str, object]]:
    build.prepare_out(out, force=True)
    return build.build(root, out, train_bytes=120_000, per_seen=2, per_unseen=5)


def test_split_keeps_unseen_speakers_and_held_out_lines_out_of_training(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "decode", fake_decode)
    fake_tree(build, tmp_path / "src")
    rows = run(build, tmp_path / "src", tmp_path / "a")
    unseen = {v.speaker for v in build.VOICES if not v.seen}
    by_split = {s: [r for r in rows if r["split"] == s] for s in build.SPLITS}
    assert {r["speaker"] for r in by_split["val"]} == unseen
    assert unseen.isdisjoint(r["speaker"] for r in by_split["train"])
    assert all(r["seen"] is False for r in by_split["val"])
    per_speaker = {s: sum(r["speaker"] == s for r in by_split["val"]) for s in unseen}
    assert set(per_speaker.values()) == {5}
    assert len(by_split["val_seen"]) == 2 * (len(build.VOICES) - len(unseen))
    line = lambda r: str(r["path"]).split("__")[1]  # noqa: E731
    held_out = {line(r) for r in by_split["val"] + by_split["val_seen"]}
    assert held_out.isdisjoint(line(r) for r in by_split["train"])
    # the two ids sharing one recording are gone for every voice
    assert not any(line(r).startswith(("animals.stamp0.", "animals.stamp1.")) for r in rows)
    assert all((tmp_path / "a" / str(r["path"])).is_file() for r in rows)


def test_rows_carry_id_and_published_text(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "decode", fake_decode)
    fake_tree(build, tmp_path / "src")
    rows = run(build, tmp_path / "src", tmp_path / "a")
    texts: dict[str, str] = {}
    for i in range(29):  # fillets line 29 has no text in the script
        texts |= {f"cs_gabriela__lvl-m-line{i}": f'Věta "m{i}"'}
        texts |= {f"cs_vit__lvl-v-line{i}": f'Věta "v{i}"'}
    for i in range(30):  # the Greek recording spelt Stamp_29 still finds stamp29.txt
        greek = "Stamp_29" if i == 29 else f"stamp{i}"
        texts |= {f"fr_paulk__animals.stamp{i}": f"Tampon {i}."}
        texts |= {f"el_kiriaki__animals.{greek}": f"Σφραγίδα {i}"}
    for row in rows:  # asterisk voices: the prompt texts are not in the Debian packages
        assert row["id"] == Path(str(row["path"])).stem
        assert row.get("text") == texts.get(str(row["id"])), row
    assert sum("text" in r for r in rows) > len(rows) // 3
    transcripts = sys.modules["transcripts"]  # build_speech's helper module
    greek = f"{build.TUXPAINT}/animals/Stamp_29_desc_el.ogg"
    assert transcripts.tuxpaint_text([tmp_path / "src"], greek, "el") == "Σφραγίδα 29"


def test_rebuild_is_identical(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "decode", fake_decode)
    fake_tree(build, tmp_path / "src")
    run(build, tmp_path / "src", tmp_path / "a")
    run(build, tmp_path / "src", tmp_path / "b")
    first = (tmp_path / "a" / "manifest.jsonl").read_text()
    assert first == (tmp_path / "b" / "manifest.jsonl").read_text()
    for row in map(json.loads, first.splitlines()):
        a, b = (tmp_path / d / row["path"] for d in "ab")
        assert a.read_bytes() == b.read_bytes()
