"""A Hugging Face Hub cache laid out on disk as ``huggingface_hub`` lays it out, for offline
tests: ``models--owner--name/{blobs/<sha256>, refs/<ref>, snapshots/<commit>/<file> -> blob}``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def commit_hash(seed: str) -> str:
    """A 40-hex-digit commit id (what refs files hold)."""
    return hashlib.sha1(seed.encode()).hexdigest()


def cache_repo(
    cache: Path, repo_id: str, files: dict[str, bytes], commit: str, refs: tuple[str, ...] = ()
) -> Path:
    """Add ``files`` as the snapshot ``commit`` of model repo ``repo_id`` under ``cache``; each
    name in ``refs`` (branch or tag) points at ``commit``. Returns the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    for ref in refs:
        path = repo / "refs" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit)  # no newline, as huggingface_hub writes it
    return snapshot


def folder_files(folder: Path) -> dict[str, bytes]:
    """The files of an export folder, by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
