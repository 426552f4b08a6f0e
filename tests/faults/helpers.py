"""Token-file surgery for the fault tests: rewrite a header (with or without fixing its
checksum), or write the layouts of older releases (version 1; version 2 has version 3's prefix)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codec.tokens import Tokens

V1 = struct.Struct("<4sBI")
V2 = struct.Struct("<4sBII")


def parts(data: bytes) -> tuple[dict[str, Any], bytes, int]:
    """The JSON header, the payload and the format version of a token file."""
    prefix = V1 if data[4] == 1 else V2
    hlen = prefix.unpack_from(data)[2]
    return json.loads(data[prefix.size : prefix.size + hlen]), data[prefix.size + hlen :], data[4]


def build(header: dict[str, Any], payload: bytes, version: int = 2) -> bytes:
    """A token file from ``header`` and ``payload``, header checksum correct (version 2) or
    in the version-1 layout (no header checksum, no fingerprint or source)."""
    if version == 1:
        header = {k: v for k, v in header.items() if k not in ("model_fingerprint", "source")}
        raw = json.dumps(header, sort_keys=True).encode()
        return V1.pack(b"CDTK", 1, len(raw)) + raw + payload
    raw = json.dumps(header, sort_keys=True).encode()
    return V2.pack(b"CDTK", version, len(raw), zlib.crc32(raw)) + raw + payload


def edit(path: Path, change: Callable[[dict[str, Any]], None], version: int | None = None) -> None:
    """Rewrite ``path``'s header with ``change`` applied, checksums made consistent, in
    format ``version`` (default: the file's own)."""
    data = path.read_bytes()
    if version is not None and version < 3 <= data[4]:  # bit-packed -> a uint type per code
        data = Tokens.from_bytes(data).to_bytes(version=2)
    header, payload, own = parts(data)
    change(header)
    path.write_bytes(build(header, payload, version or own))


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def one_error(err: str, *words: str) -> str:
    """The single ``error:`` line of ``err``, checked to contain ``words``."""
    lines = error_lines(err)
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def unchanged(folder: Path, before: dict[str, bytes]) -> None:
    """Nothing under ``folder`` was added, removed or rewritten (no temp files left)."""
    assert snapshot(folder) == before, sorted(set(snapshot(folder)) ^ set(before))
