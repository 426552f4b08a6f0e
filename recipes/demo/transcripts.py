#!/usr/bin/env python3
"""Transcripts of the bundled speech, from the texts its Debian packages publish.

- Fish Fillets NG (``cs_gabriela``, ``cs_vit``): the game's Czech dialogue script,
  ``usr/share/games/fillets-ng/script/<level>/dialogs_cs.lua`` (package ``fillets-ng-data``),
  ``dialogId("<line id>", ...)`` followed by ``dialogStr("<Czech text>")``.
- Tux Paint (``fr_paulk``, ``el_kiriaki``, ``ro_tabbytha``): each stamp's description,
  the ``<locale>.utf8=`` line of ``<stamp>.txt`` beside ``<stamp>_desc_<locale>.ogg``, which is
  that text read aloud. Where the recording's name does not match a stamp (a few Greek files
  are spelt differently) the stamp is looked up ignoring case and punctuation.
- Asterisk prompts (``en_allison``, ``fr_june``, ``it_carlo``): the prompt texts are published
  upstream (``core-sounds-<lang>.txt`` in the sound tarballs) but not in the Debian packages
  the set is built from, so these rows get no ``text``.

Every row also gets ``id`` (the file's stem). Usage, on a manifest already built::

    python recipes/demo/transcripts.py --source data/speech-sources \\
        --manifest assets/speech/manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

FILLETS_SCRIPT = "usr/share/games/fillets-ng/script"
_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
_DIALOG = re.compile(rf"dialogId\(\s*{_LUA_STRING}[^)]*\)\s*dialogStr\(\s*{_LUA_STRING}\s*\)")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: " " if m.group(1) == "n" else m.group(1), text).strip()


def fillets_text(roots: Sequence[Path], source: str) -> str | None:
    """Czech text of ``.../sound/<level>/cs/<line id>.ogg`` from the level's dialogue script."""
    parts = Path(source).parts
    level, line = parts[-3], Path(source).stem
    for root in roots:
        script = root / FILLETS_SCRIPT / level / "dialogs_cs.lua"
        if script.is_file():
            found = dict(_DIALOG.findall(script.read_text(encoding="utf-8")))
            if line in found:
                return _unescape(found[line])
    return None


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def tuxpaint_text(roots: Sequence[Path], source: str, locale: str) -> str | None:
    """The ``<locale>.utf8=`` description of the stamp ``<stamp>_desc_<locale>.ogg`` reads."""
    stamp = Path(source).name.removesuffix(f"_desc_{locale}.ogg")
    for root in roots:
        folder = (root / source).parent
        if not folder.is_dir():
            continue
        texts = {_key(p.stem): p for p in folder.glob("*.txt")}
        path = folder / f"{stamp}.txt"
        path = path if path.is_file() else texts.get(_key(stamp), path)
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith(f"{locale}.utf8="):
                    return line.split("=", 1)[1].strip() or None
    return None


def transcript(roots: Sequence[Path], row: dict[str, object]) -> str | None:
    """The published text of a manifest row's recording, or ``None`` where there is none."""
    source, package = str(row["source"]), str(row["package"])
    if package.startswith("fillets-ng-data"):
        return fillets_text(roots, source)
    if package.startswith("tuxpaint-stamps"):
        return tuxpaint_text(roots, source, str(row["language"]).split("-")[0])
    return None


def add_transcripts(
    rows: list[dict[str, object]], roots: Sequence[Path]
) -> list[dict[str, object]]:
    """``rows`` with ``id`` (the file's stem) and, where published, ``text``."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in ("id", "text")}
        row["id"] = Path(str(row["path"])).stem
        text = transcript(roots, row)
        if text is not None:
            row["text"] = text
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    """Add ``id`` and ``text`` to the rows of ``--manifest`` in place."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, nargs="+", required=True, help="unpacked packages")
    parser.add_argument("--manifest", type=Path, default=Path("assets/speech/manifest.jsonl"))
    args = parser.parse_args(argv)
    lines = args.manifest.read_text(encoding="utf-8").splitlines()
    rows = add_transcripts([json.loads(line) for line in lines if line.strip()], args.source)
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    args.manifest.write_text(text, encoding="utf-8")
    known = sum("text" in r for r in rows)
    print(f"{known} of {len(rows)} rows have a transcript ({args.manifest})")


if __name__ == "__main__":
    main()
