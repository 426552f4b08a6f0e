"""Ship a trained model inside the package: ``codec/bundled/<name>/`` in bfloat16.

    python recipes/demo/bundle_model.py RUN/export --name speech-16k-6kbps --card CARD.md --force

MODEL is anything ``load_model`` takes (an export folder, a snapshot, a run folder, a
``.ckpt``); its ``model_id`` becomes NAME. The weights are stored in bfloat16 (half the size;
they load back as float32), ``config.json`` records the fingerprint of what loads back, and
``README.md`` is the model card: ``--card`` (how it was trained, how it scores), else the one
already in the folder, else a generated one. The folder is built beside the destination and
swapped in at the end, so an interrupted run leaves the old model whole. An existing model is
replaced only with ``--force``. Prints the size and the fingerprint; token files record the
fingerprint, so replacing a shipped model's weights means that earlier token files no longer
decode with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch

from codec.bundled import BUNDLED_ROOT
from codec.loading import load_model
from codec.pretrained import save_pretrained

#: the model card's file name inside a bundled folder
CARD = "README.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="export folder, snapshot, run folder or .ckpt")
    parser.add_argument("--name", required=True, help="folder name under the bundled root")
    parser.add_argument("--card", type=Path, help="model card (markdown) to ship as README.md")
    parser.add_argument("--root", type=Path, default=BUNDLED_ROOT, help="bundled models' folder")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights")
    parser.add_argument("--force", action="store_true", help="replace an existing model")
    return parser.parse_args(argv)


def card_text(card: Path | None, existing: Path) -> str | None:
    """The model card to ship: ``card``, else the destination's current one, else None."""
    if card is not None:
        return card.read_text(encoding="utf-8")
    return existing.read_text(encoding="utf-8") if existing.is_file() else None


class Bundled(NamedTuple):
    folder: Path
    #: of the weights as they load back from the folder
    fingerprint: str


def swap_in(new: Path, dest: Path, old: Path) -> None:
    """Move ``new`` to ``dest``; an existing ``dest`` goes to ``old`` first and comes back
    if the second move fails, so ``dest`` is never left missing."""
    if dest.exists():
        dest.rename(old)
    try:
        new.rename(dest)
    except OSError:
        if old.exists():
            old.rename(dest)
        raise


def bundle(
    model: str, name: str, root: Path, card: Path | None, fp32: bool, force: bool
) -> Bundled:
    """Write ``root/name`` from ``model``."""
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ValueError(f"--name must be a plain folder name, got {name!r}")
    dest = root / name
    if dest.exists() and not force:
        raise ValueError(f"{dest} exists (pass --force to replace it)")
    text = card_text(card, dest / CARD)
    codec = load_model(model).eval()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        dtype = None if fp32 else torch.bfloat16
        # the id token files record: the name users load it by, not the training run's id
        config = dataclasses.replace(codec.config, model_id=name)
        save_pretrained(codec, config, staging / "model", weights_dtype=dtype)
        if text is not None:
            (staging / "model" / CARD).write_text(text, encoding="utf-8")
        # load_model refuses weights that do not match the recorded fingerprint
        fingerprint = load_model(staging / "model").fingerprint
        swap_in(staging / "model", dest, staging / "old")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Bundled(dest, fingerprint)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        done = bundle(args.model, args.name, args.root, args.card, args.fp32, args.force)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = (done.folder / "model.safetensors").stat().st_size
    print(f"{done.folder}: {size / 1e6:.1f} MB, fingerprint {done.fingerprint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
