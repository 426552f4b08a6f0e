"""Models shipped inside the package, so a fresh install can tokenize speech without training.

Each model is a folder ``codec/bundled/<name>/`` in the export format (``config.json`` +
``model.safetensors`` + ``README.md`` model card). ``--model <name>`` and
``load_model("<name>")`` find them; :data:`DEFAULT_MODEL` is what the command line uses when no
``--model`` is given.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_ROOT", "DEFAULT_MODEL", "bundled_models", "bundled_path"]

#: where the shipped models live (package data)
BUNDLED_ROOT = Path(__file__).resolve().parent

#: the default of ``--model`` (see its README.md for how it was trained and how it scores)
DEFAULT_MODEL = "speech-16k-6kbps"

_FILES = ("config.json", "model.safetensors")


def bundled_path(name: str, root: Path | None = None) -> Path | None:
    """The folder of the bundled model ``name``, or None if there is no such model."""
    root = BUNDLED_ROOT if root is None else root
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    folder = root / name
    return folder if all((folder / f).is_file() for f in _FILES) else None


def bundled_models(root: Path | None = None) -> list[str]:
    """Names of the bundled models, sorted."""
    root = BUNDLED_ROOT if root is None else root
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if bundled_path(p.name, root) is not None)
