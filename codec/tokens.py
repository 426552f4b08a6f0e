"""Discrete tokens and their binary file format (never pickle).

File layout, version 2 (all little-endian)::

    magic    4 bytes  b"CDTK"
    version  1 byte   (FORMAT_VERSION)
    hlen     4 bytes  uint32, length of the JSON header
    hcrc     4 bytes  uint32, CRC32 of the JSON header bytes
    header   hlen bytes, UTF-8 JSON (shapes, dtype, rates, layout, model id and fingerprint,
             source stamp, CRC32 of the payload)
    payload  codes [B, K, T] in the smallest unsigned integer type that holds codebook_size - 1

Version 1 files (no ``hcrc``, no fingerprint) still load: their payload CRC is checked and
every header field is validated against the codes, but a header edit that stays consistent
cannot be detected there.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from codec.fileio import atomic_write_bytes
from codec.token_checks import (
    SourceStamp,
    check_code_range,
    check_fields,
    check_lengths,
    shape_of,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "SourceStamp",
    "Tokens",
    "TokensFormatError",
    "code_dtype",
    "payload_bytes",
    "torch_code_dtype",
]

MAGIC = b"CDTK"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
_START = struct.Struct("<4sB")
_PREFIXES = {1: struct.Struct("<4sBI"), 2: struct.Struct("<4sBII")}
_MAX_HEADER = 1 << 20


class TokensFormatError(ValueError):
    """A token file is corrupt, truncated, foreign or of an unsupported version."""


def torch_code_dtype(codebook_size: int) -> torch.dtype:
    """The smallest torch integer type that holds codes ``[0, codebook_size)``; ``Tokens.codes``
    are kept in it. int16 before uint16: torch's uint16 has no comparisons with other types."""
    for dtype, top in (
        (torch.uint8, 2**8),
        (torch.int16, 2**15),
        (torch.uint16, 2**16),
        (torch.int32, 2**31),
    ):
        if codebook_size <= top:
            return dtype
    return torch.int64


@dataclass(frozen=True)
class Tokens:
    """Codes ``[B, K, T]`` (K = groups x levels, group-major) with everything needed to decode.

    ``lengths`` [B] counts valid frames per item; ``num_samples`` [B] the valid audio samples
    at ``sample_rate`` (so decoding can trim to the exact input length). ``codes`` are kept in
    the smallest integer type that holds ``codebook_size`` (``torch_code_dtype``: 2 bytes for
    up to 65536 entries); use ``codes.long()`` for arithmetic or indexing.
    ``model_fingerprint`` identifies the model's weights and config ("" when unknown);
    ``source`` the audio file encoded (None when unknown).
    """

    codes: Tensor
    lengths: Tensor
    num_samples: Tensor
    sample_rate: int
    frame_rate: float
    codebook_size: int
    groups: int
    model_id: str
    model_fingerprint: str = ""
    source: SourceStamp | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if not isinstance(self.codes, Tensor) or self.codes.dim() != 3:
            raise ValueError(f"codes must be a [B, K, T] tensor, got {shape_of(self.codes)}")
        if (
            self.codes.is_floating_point()
            or self.codes.is_complex()
            or self.codes.dtype == torch.bool
        ):
            raise ValueError(f"codes must be integers, got {self.codes.dtype}")
        batch, k, frames = self.codes.shape
        if self.groups < 1 or k % self.groups:
            raise ValueError(f"groups: {k} codebooks cannot be split into {self.groups} groups")
        check_code_range(self.codes, self.codebook_size)
        compact = self.codes.to(torch_code_dtype(self.codebook_size))
        object.__setattr__(self, "codes", compact)
        for name in ("lengths", "num_samples"):
            value = getattr(self, name)
            if not isinstance(value, Tensor) or value.shape != (batch,):
                raise ValueError(f"{name} must be [B]={batch}, got shape {shape_of(value)}")
            if value.is_floating_point() or value.dtype == torch.bool:
                raise ValueError(f"{name} must be integers, got {value.dtype}")
            object.__setattr__(self, name, value.long().cpu())
        check_lengths(self.lengths, self.num_samples, frames, self.sample_rate / self.frame_rate)

    @property
    def num_codebooks(self) -> int:
        return int(self.codes.shape[1])

    @property
    def levels(self) -> int:
        return self.num_codebooks // self.groups

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[2])

    @property
    def bitrate(self) -> float:
        """Nominal bits per second of these codes."""
        return self.frame_rate * self.num_codebooks * float(np.log2(self.codebook_size))

    def truncate(self, num_codebooks: int) -> Tokens:
        """Keep the first ``num_codebooks // groups`` levels of every group."""
        if num_codebooks % self.groups or not 0 < num_codebooks <= self.num_codebooks:
            raise ValueError(
                f"num_codebooks must be a multiple of groups={self.groups} in "
                f"[{self.groups}, {self.num_codebooks}], got {num_codebooks}"
            )
        per_group = num_codebooks // self.groups
        codes = self.codes.view(self.codes.shape[0], self.groups, self.levels, -1)
        codes = codes[:, :, :per_group].reshape(self.codes.shape[0], num_codebooks, -1)
        return replace(self, codes=codes.contiguous())

    def item(self, index: int) -> Tokens:
        """One item of the batch, trimmed to its valid frames: ``[1, K, lengths[index]]``."""
        n = int(self.lengths[index])
        return replace(
            self,
            codes=self.codes[index : index + 1, :, :n].clone(),
            lengths=self.lengths[index : index + 1].clone(),
            num_samples=self.num_samples[index : index + 1].clone(),
        )

    def check_made_by(self, model_id: str, model_fingerprint: str) -> None:
        """ValueError unless these tokens come from the model with this fingerprint (tokens
        without one, from format version 1, are checked by ``model_id`` only)."""
        if self.model_fingerprint and self.model_fingerprint != model_fingerprint:
            raise ValueError(
                f"tokens were made by another model (fingerprint {self.model_fingerprint[:12]}, "
                f"this model {model_fingerprint[:12]}, both called {model_id!r}); "
                "use --allow-model-mismatch to decode anyway"
                if self.model_id == model_id
                else f"tokens were made by model {self.model_id!r} (fingerprint "
                f"{self.model_fingerprint[:12]}), not {model_id!r} ({model_fingerprint[:12]}); "
                "use --allow-model-mismatch to decode anyway"
            )
        if not self.model_fingerprint and self.model_id != model_id:
            raise ValueError(
                f"tokens were made by model {self.model_id!r}, not {model_id!r}; "
                "use --allow-model-mismatch to decode anyway"
            )

    def to(self, device: torch.device | str) -> Tokens:
        return replace(self, codes=self.codes.to(device))

    def to_bytes(self) -> bytes:
        codes = self.codes.detach().cpu().numpy()
        dtype = code_dtype(self.codebook_size)
        payload = codes.astype(dtype.newbyteorder("<"), copy=False).tobytes()
        header = self._header(dtype, zlib.crc32(payload))
        raw = json.dumps(header, sort_keys=True).encode("utf-8")
        prefix = _PREFIXES[FORMAT_VERSION].pack(MAGIC, FORMAT_VERSION, len(raw), zlib.crc32(raw))
        return prefix + raw + payload

    def _header(self, dtype: np.dtype, crc: int) -> dict[str, Any]:
        source = self.source
        return {
            "shape": list(self.codes.shape),
            "dtype": dtype.name,
            "crc32": crc,
            "lengths": [int(v) for v in self.lengths],
            "num_samples": [int(v) for v in self.num_samples],
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "codebook_size": self.codebook_size,
            "groups": self.groups,
            "model_id": self.model_id,
            "model_fingerprint": self.model_fingerprint,
            "source": None if source is None else vars(source).copy(),
        }

    @classmethod
    def from_bytes(cls, data: bytes) -> Tokens:
        """Parse a token file (version 1 or 2); TokensFormatError names what is wrong."""
        version, header, payload = _split(data)
        shape, dtype = _check_header(header, version)
        expected = int(np.prod(shape)) * dtype.itemsize
        if len(payload) != expected:
            raise TokensFormatError(
                f"token file is truncated or padded: payload {len(payload)} bytes, expected {expected}"
            )
        if zlib.crc32(payload) != header["crc32"]:
            raise TokensFormatError("token file is corrupt: checksum mismatch")
        codes = np.frombuffer(payload, dtype=dtype.newbyteorder("<")).reshape(shape)
        size = header["codebook_size"]
        if codes.size and codes.max() >= size:
            raise TokensFormatError("token file holds codes outside the codebook")
        try:
            return cls(
                codes=torch.from_numpy(codes.astype(code_dtype(size))),
                lengths=torch.tensor(header["lengths"], dtype=torch.long),
                num_samples=torch.tensor(header["num_samples"], dtype=torch.long),
                sample_rate=header["sample_rate"],
                frame_rate=float(header["frame_rate"]),
                codebook_size=size,
                groups=header["groups"],
                model_id=header["model_id"],
                model_fingerprint=header.get("model_fingerprint", ""),
                source=_source(header.get("source")),
            )
        except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
            raise TokensFormatError(f"token file is corrupt: {exc}") from None

    def save(self, path: str | os.PathLike[str], force: bool = False) -> None:
        """Write atomically (temp file + rename); refuse to overwrite unless ``force``."""
        atomic_write_bytes(path, self.to_bytes(), force=force)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Tokens:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TokensFormatError(f"cannot read token file {path}: {exc.strerror}") from None
        try:
            return cls.from_bytes(data)
        except TokensFormatError as exc:
            raise TokensFormatError(f"{path}: {exc}") from None


def code_dtype(codebook_size: int) -> np.dtype:
    """Smallest unsigned integer dtype that holds ``codebook_size - 1``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if codebook_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"codebook_size {codebook_size} is too large")


def payload_bytes(data: bytes) -> int:
    """Bytes of packed codes in the token file ``data`` (all but the prefix and header)."""
    return len(_split(data)[2])


def _split(data: bytes) -> tuple[int, dict[str, Any], bytes]:
    if len(data) < _START.size:
        raise TokensFormatError("not a token file: too short")
    magic, version = _START.unpack_from(data)
    if magic != MAGIC:
        raise TokensFormatError(f"not a token file: bad magic {magic!r}")
    if version not in READ_VERSIONS:
        raise TokensFormatError(
            f"unsupported token file version {version} (this reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}; a newer codec wrote it?)"
        )
    prefix = _PREFIXES[version]
    if len(data) < prefix.size:
        raise TokensFormatError("token file is truncated: header incomplete")
    _, _, hlen, *hcrc = prefix.unpack_from(data)
    if hlen > _MAX_HEADER or prefix.size + hlen > len(data):
        raise TokensFormatError("token file is truncated: header incomplete")
    raw = data[prefix.size : prefix.size + hlen]
    if hcrc and zlib.crc32(raw) != hcrc[0]:
        raise TokensFormatError("token file is corrupt: header checksum mismatch")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokensFormatError("token file is corrupt: unreadable header") from None
    if not isinstance(header, dict):
        raise TokensFormatError("token file is corrupt: header is not an object")
    return version, header, data[prefix.size + hlen :]


_REQUIRED = {
    "shape": list,
    "dtype": str,
    "crc32": int,
    "lengths": list,
    "num_samples": list,
    "sample_rate": int,
    "frame_rate": (int, float),
    "codebook_size": int,
    "groups": int,
    "model_id": str,
}
_REQUIRED_V2 = {"model_fingerprint": str, "source": (dict, type(None))}


def _check_header(header: dict[str, Any], version: int) -> tuple[tuple[int, ...], np.dtype]:
    required = _REQUIRED if version == 1 else {**_REQUIRED, **_REQUIRED_V2}
    for key, kind in required.items():
        if key not in header or not isinstance(header[key], kind):  # type: ignore[arg-type]
            raise TokensFormatError(
                f"token file is corrupt: header field '{key}' missing or invalid"
            )
    shape = tuple(header["shape"])
    if len(shape) != 3 or not all(isinstance(v, int) and v >= 0 for v in shape):
        raise TokensFormatError(f"token file is corrupt: bad shape {shape}")
    size = header["codebook_size"]
    if not 1 <= size <= 2**32 or header["dtype"] != code_dtype(size).name:
        raise TokensFormatError(
            f"token file is corrupt: dtype {header['dtype']!r} does not fit codebook_size {size}"
        )
    if len(header["lengths"]) != shape[0] or len(header["num_samples"]) != shape[0]:
        raise TokensFormatError("token file is corrupt: lengths do not match batch size")
    return shape, np.dtype(header["dtype"])  # type: ignore[return-value]


def _source(value: Any) -> SourceStamp | None:
    if value is None:
        return None
    if set(value) != {"name", "size", "mtime_ns"}:
        raise ValueError(f"source must have name, size and mtime_ns, got {sorted(value)}")
    return SourceStamp(value["name"], value["size"], value["mtime_ns"])
