"""The Hugging Face Hub: fetch a model repository's files into the local cache, upload a folder.

Everything goes through ``huggingface_hub`` (the optional extra ``hub``), so the cache
is the one every Hugging Face library shares (``~/.cache/huggingface/hub``, ``HF_HUB_CACHE``)
and ``HF_HUB_OFFLINE=1`` keeps to it. Nothing here runs code from a repository: only the named
files are fetched, and the callers read them as JSON and safetensors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codec.errors import install_hint

__all__ = ["HUB_HINT", "fetch_files", "hub_offline", "import_hub", "is_hub_id", "upload_folder"]

HUB_HINT = install_hint("hub")

# owner/name, as the Hub spells repository ids (no "..", no leading or trailing "-" / ".")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def is_hub_id(spec: str) -> bool:
    """Whether ``spec`` reads as a Hub repository id ``owner/name`` (checked before any I/O)."""
    return bool(_REPO_ID.match(spec)) and ".." not in spec and not spec.endswith((".", "-"))


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set to a true value, read now (the
    library reads it once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def import_hub(what: str) -> Any:
    """The ``huggingface_hub`` module, or a one-line ``ValueError`` naming the extra."""
    try:
        import huggingface_hub
    except ImportError:
        raise ValueError(f"{what} needs huggingface_hub: {HUB_HINT}") from None
    return huggingface_hub


def fetch_files(
    repo_id: str,
    filenames: Sequence[str],
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> Path:
    """Fetch ``filenames`` of the model repo ``repo_id`` at ``revision`` (branch, tag or commit;
    default ``main``) into the Hub cache; returns the snapshot folder that holds them.

    Offline (``local_files_only`` or ``HF_HUB_OFFLINE``) only the cache is read. Every failure
    (no such repo, revision or file, no network, not cached) is a one-line ``ValueError``.
    """
    hub = import_hub(f"{repo_id} (not a local path): loading it from the Hugging Face Hub")
    offline = local_files_only or hub_offline()
    where = f"{repo_id}" + (f"@{revision}" if revision else "")
    folders = set()
    for name in filenames:
        try:
            path = hub.hf_hub_download(
                repo_id,
                name,
                revision=revision,
                cache_dir=None if cache_dir is None else str(cache_dir),
                local_files_only=offline,
            )
        except Exception as exc:  # the library raises many types (HTTP, cache, offline, auth)
            raise ValueError(_fetch_error(where, name, exc, offline)) from None
        folders.add(Path(path).parent)
    if len(folders) != 1:  # a branch moved between two files: refuse a mixed snapshot
        raise ValueError(f"{where}: the files came from different commits; try again")
    return folders.pop()


def _fetch_error(where: str, name: str, exc: Exception, offline: bool) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if offline:
        return (
            f"{where} (not a local path): {name} is not in the local Hugging Face cache "
            f"(offline: local_files_only / HF_HUB_OFFLINE); {type(exc).__name__}: {reason}"
        )
    return (
        f"{where} (not a local path): cannot fetch {name} from the Hugging Face Hub "
        f"({type(exc).__name__}: {reason})"
    )


def upload_folder(
    folder: Path,
    repo_id: str,
    commit_message: str,
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
) -> str:
    """Create the model repo ``repo_id`` if needed and upload every file of ``folder`` in one
    commit; returns the commit's URL."""
    hub = import_hub(f"pushing to {repo_id!r} on the Hugging Face Hub")
    api = hub.HfApi(token=token)
    # private=None keeps an existing repo's visibility (and the Hub's default for a new one)
    extra = {} if private is None else {"private": private}
    api.create_repo(repo_id, repo_type="model", exist_ok=True, **extra)
    info = api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=str(folder),
        commit_message=commit_message,
        revision=revision,
    )
    return str(getattr(info, "commit_url", info))
