"""``codec merge-tokens``: the worker parts of a sharded export -> one shard folder.

Workers of ``codec export-tokens --num-shards N`` each write ``r000i-shard-*`` files and an
``r000i-manifest.json``, into one folder or several. :func:`merge_tokens` checks that the parts
form one whole split (every worker present and finished, one model, one codebook count) and
writes ``manifest.json`` whose utterances are in the single worker's order. Shard files from
other folders are hard-linked into the output folder (copied where links cannot be made), so
the result is one self-contained folder; nothing is re-encoded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codec.fileio import atomic_path
from codec.lm.shards import (
    MANIFEST_NAME,
    combine_manifests,
    find_manifests,
    write_shard_manifest,
)

__all__ = ["merge_tokens"]


def merge_tokens(
    shard_dirs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Merge the worker parts found in ``shard_dirs`` into ``out_dir`` (which may be one of
    them); returns the merged manifest. An existing ``manifest.json`` there is replaced only
    with ``force``. Problems are a one-line ValueError / FileExistsError."""
    found = find_manifests(shard_dirs, parts=True)
    if "part" not in found[0][1]:
        raise ValueError(
            f"{found[0][0]}: no worker manifests (r*-{MANIFEST_NAME}) to merge; a whole export "
            "is read as it is (TokenShards takes several folders)"
        )
    out = Path(out_dir)
    target = out / MANIFEST_NAME
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to replace it)")
    out.mkdir(parents=True, exist_ok=True)
    linked = 0
    for folder, manifest in found:
        for shard in manifest["shards"]:
            for key in ("codes", "index", "parquet"):
                if shard.get(key):
                    linked += _place(folder / shard[key], out / shard[key], force)
    merged = combine_manifests([m for _, m in found])
    if "source_root" in merged:  # relative to each worker's folder: make it OUT's
        merged["source_root"] = _source_root(found, out)
    write_shard_manifest(out, merged)  # last: the folder counts as merged from here on
    say = log or (lambda _msg: None)
    say(
        f"merged {len(found)} workers: {len(merged['shards'])} shards, {merged['num_items']} "
        f"items into {target} ({linked} files linked or copied)"
    )
    return merged


def _source_root(found: list[tuple[Path, dict[str, Any]]], out: Path) -> str:
    """The workers' common input root, relative to ``out`` (POSIX); one line when they differ."""
    roots = {(folder / m.get("source_root", ".")).resolve() for folder, m in found}
    if len(roots) > 1:
        raise ValueError(
            f"the workers' inputs lie under different folders ({', '.join(map(str, roots))}): "
            "give every worker the same inputs"
        )
    return Path(os.path.relpath(roots.pop(), out.resolve())).as_posix()


def _place(source: Path, target: Path, force: bool) -> int:
    """Put ``source`` at ``target``: nothing when it is that file already, else a hard link
    (a copy across file systems), atomically; returns the number of files placed."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: listed in its worker manifest but missing")
    if target.exists():
        if os.path.samefile(source, target):
            return 0
        if not force:
            raise FileExistsError(f"{target} exists (use --force to replace it)")
    with atomic_path(target, force=True) as tmp:
        tmp.unlink()  # the link needs a free name
        try:
            os.link(source, tmp)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, tmp)
    return 1
