#!/usr/bin/env python3
"""Download (optional), verify, extract LibriTTS subsets and write a JSONL manifest.

Examples::

    # an existing tree: data/LibriTTS/{train-clean-100,dev-clean,...}
    python recipes/libritts/prepare.py --root data --out data/libritts.jsonl
    # download + verify + extract first (resumable; rerun after an interruption)
    python recipes/libritts/prepare.py --root data --download \
        --subsets train-clean-100 dev-clean --out data/libritts.jsonl

Downloads use only the standard library (urllib). A partial download is kept as
``<archive>.part`` and resumed with an HTTP Range request (restarted if the server ignores it);
a complete, verified archive is never fetched again, and a subset already extracted (marker
file ``LibriTTS/.<subset>.extracted``) is not extracted again.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codec.data.libritts import LIBRITTS_SUBSETS, scan_libritts  # noqa: E402
from codec.data.manifest import write_manifest  # noqa: E402

BASE_URL = "https://www.openslr.org/resources/60"
# SHA-256 of the OpenSLR archives (OpenSLR publishes only md5 sums on https://www.openslr.org/60/;
# these sha256 values are the ones torchaudio's LIBRITTS dataset pins for the same URLs).
SHA256: dict[str, str] = {
    "dev-clean": "da0864e1bd26debed35da8a869dd5c04dfc27682921936de7cff9c8a254dbe1a",
    "dev-other": "d413eda26f3a152ac7c9cf3658ef85504dfb1b625296e5fa83727f5186cca79c",
    "test-clean": "234ea5b25859102a87024a4b9b86641f5b5aaaf1197335c95090cde04fe9a4f5",
    "test-other": "33a5342094f3bba7ccc2e0500b9e72d558f72eb99328ac8debe1d9080402f10d",
    "train-clean-100": "c5608bf1ef74bb621935382b8399c5cdd51cd3ee47cec51f00f885a64c6c7f6b",
    "train-clean-360": "ce7cff44dcac46009d18379f37ef36551123a1dc4e5c8e4eb73ae57260de4886",
    "train-other-500": "e35f7e34deeb2e2bdfe4403d88c8fdd5fbf64865cae41f027a185a6965f0a5df",
}
CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of ``path`` (``sha256`` or ``md5``), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest``, resuming ``dest.part`` with an HTTP Range request.

    If the server answers 200 instead of 206 the partial file is discarded and the download
    restarts. ``dest`` appears (by rename) only once the transfer is complete.
    """
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:  # 416: range not satisfiable, i.e. the .part is already complete
            raise
        part.replace(dest)
        return dest
    with response:
        resumed = response.status == 206
        mode = "ab" if resumed else "wb"
        total = int(response.headers.get("Content-Length") or 0) + (done if resumed else 0)
        print(f"{'resuming' if resumed else 'fetching'} {url} ({total / 1e9:.2f} GB)")
        with open(part, mode) as handle:
            shutil.copyfileobj(response, handle, CHUNK)
    if total and part.stat().st_size != total:
        raise OSError(f"{url}: got {part.stat().st_size} of {total} bytes; rerun to resume")
    part.replace(dest)
    return dest


def verify(path: Path, expected: str | None) -> None:
    """Check ``path``'s SHA-256; a mismatching file is renamed ``*.bad`` and an error raised."""
    if expected is None:
        print(f"no checksum known for {path.name}; not verified")
        return
    actual = file_digest(path)
    if actual != expected:
        path.replace(path.with_name(path.name + ".bad"))
        raise OSError(f"{path}: sha256 {actual} != expected {expected} (moved to .bad)")
    print(f"verified {path.name}")


def extract(archive: Path, root: Path, subset: str) -> None:
    """Unpack ``archive`` into ``root`` (creating ``root/LibriTTS/<subset>``) once."""
    marker = root / "LibriTTS" / f".{subset}.extracted"
    if marker.exists():
        return
    print(f"extracting {archive.name}")
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="data")
        else:  # Python without extraction filters: refuse absolute or parent paths
            bad = [m.name for m in tar.getmembers() if m.name.startswith("/") or ".." in m.name]
            if bad:
                raise OSError(f"{archive}: unsafe paths {bad[:3]}")
            tar.extractall(root)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def fetch_subsets(root: Path, subsets: list[str], base_url: str, check: bool) -> None:
    """Download, verify and extract each subset into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for subset in subsets:
        if (root / "LibriTTS" / f".{subset}.extracted").exists():
            continue
        archive = download(f"{base_url}/{subset}.tar.gz", root / f"{subset}.tar.gz")
        verify(archive, SHA256.get(subset) if check else None)
        extract(archive, root, subset)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Prepare a LibriTTS manifest (JSONL).")
    parser.add_argument("--root", type=Path, required=True, help="folder holding LibriTTS/")
    parser.add_argument("--out", type=Path, required=True, help="manifest to write (.jsonl)")
    parser.add_argument("--subsets", nargs="+", choices=sorted(LIBRITTS_SUBSETS), default=None)
    parser.add_argument("--download", action="store_true", help="fetch missing subsets")
    parser.add_argument(
        "--base-url", default=BASE_URL, help="mirror, e.g. https://us.openslr.org/resources/60"
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the sha256 check")
    parser.add_argument(
        "--text",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store each utterance's normalised transcript (default; --no-text to leave it out)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    args = parser.parse_args(argv)
    if args.download:
        wanted = args.subsets or ["train-clean-100", "dev-clean"]
        fetch_subsets(args.root, wanted, args.base_url.rstrip("/"), not args.no_verify)
    records = scan_libritts(args.root, args.subsets, include_text=args.text)
    write_manifest(args.out, records, force=args.force)
    hours = sum(r.duration for r in records) / 3600
    texts = sum("text" in r.meta for r in records)
    print(f"wrote {len(records)} utterances ({hours:.1f} h, {texts} with text) to {args.out}")


if __name__ == "__main__":
    main()
