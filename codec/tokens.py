"""Discrete tokens and their binary file format (never pickle).

File layout (all little-endian)::

    magic    4 bytes  b"CDTK"
    version  1 byte   (FORMAT_VERSION)
    hlen     4 bytes  uint32, length of the JSON header
    header   hlen bytes, UTF-8 JSON (shapes, dtype, rates, layout, model id, CRC32 of payload)
    payload  codes [B, K, T] in the smallest unsigned integer type that holds codebook_size - 1
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

MAGIC = b"CDTK"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_MAX_HEADER = 1 << 20


class TokensFormatError(ValueError):
    """A token file is corrupt, truncated, foreign or of an unsupported version."""


@dataclass(frozen=True)
class Tokens:
    """Codes ``[B, K, T]`` (K = groups x levels, group-major) with everything needed to decode.

    ``lengths`` [B] counts valid frames per item; ``num_samples`` [B] the valid audio samples
    at ``sample_rate`` (so decoding can trim to the exact input length).
    """

    codes: Tensor
    lengths: Tensor
    num_samples: Tensor
    sample_rate: int
    frame_rate: float
    codebook_size: int
    groups: int
    model_id: str

    def __post_init__(self) -> None:
        if self.codes.dim() != 3:
            raise ValueError(f"codes must be [B, K, T], got shape {tuple(self.codes.shape)}")
        batch, k, _ = self.codes.shape
        if self.groups < 1 or k % self.groups:
            raise ValueError(f"{k} codebooks cannot be split into {self.groups} groups")
        for name in ("lengths", "num_samples"):
            value = getattr(self, name)
            if value.shape != (batch,):
                raise ValueError(f"{name} must be [B]={batch}, got shape {tuple(value.shape)}")

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

    def to(self, device: torch.device | str) -> Tokens:
        return replace(self, codes=self.codes.to(device))

    def to_bytes(self) -> bytes:
        codes = self.codes.detach().cpu().numpy()
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes out of range [0, {self.codebook_size})")
        dtype = code_dtype(self.codebook_size)
        payload = codes.astype(dtype.newbyteorder("<"), copy=False).tobytes()
        header = self._header(dtype, zlib.crc32(payload))
        raw = json.dumps(header, sort_keys=True).encode("utf-8")
        return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(raw)) + raw + payload

    def _header(self, dtype: np.dtype, crc: int) -> dict[str, Any]:
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
        }

    @classmethod
    def from_bytes(cls, data: bytes) -> Tokens:
        header, payload = _split(data)
        shape, dtype = _check_header(header)
        expected = int(np.prod(shape)) * dtype.itemsize
        if len(payload) != expected:
            raise TokensFormatError(
                f"token file is truncated or padded: payload {len(payload)} bytes, expected {expected}"
            )
        if zlib.crc32(payload) != header["crc32"]:
            raise TokensFormatError("token file is corrupt: checksum mismatch")
        codes = np.frombuffer(payload, dtype=dtype.newbyteorder("<")).reshape(shape)
        if codes.size and codes.max() >= header["codebook_size"]:
            raise TokensFormatError("token file holds codes outside the codebook")
        return cls(
            codes=torch.from_numpy(codes.astype(np.int64)),
            lengths=torch.tensor(header["lengths"], dtype=torch.long),
            num_samples=torch.tensor(header["num_samples"], dtype=torch.long),
            sample_rate=int(header["sample_rate"]),
            frame_rate=float(header["frame_rate"]),
            codebook_size=int(header["codebook_size"]),
            groups=int(header["groups"]),
            model_id=str(header["model_id"]),
        )

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


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < _PREFIX.size:
        raise TokensFormatError("not a token file: too short")
    magic, version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise TokensFormatError(f"not a token file: bad magic {magic!r}")
    if version != FORMAT_VERSION:
        raise TokensFormatError(
            f"unsupported token file version {version} (this reads {FORMAT_VERSION})"
        )
    if hlen > _MAX_HEADER or _PREFIX.size + hlen > len(data):
        raise TokensFormatError("token file is truncated: header incomplete")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokensFormatError("token file is corrupt: unreadable header") from None
    if not isinstance(header, dict):
        raise TokensFormatError("token file is corrupt: header is not an object")
    return header, data[_PREFIX.size + hlen :]


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


def _check_header(header: dict[str, Any]) -> tuple[tuple[int, ...], np.dtype]:
    for key, kind in _REQUIRED.items():
        if not isinstance(header.get(key), kind):  # type: ignore[arg-type]
            raise TokensFormatError(
                f"token file is corrupt: header field '{key}' missing or invalid"
            )
    shape = tuple(header["shape"])
    if len(shape) != 3 or not all(isinstance(v, int) and v >= 0 for v in shape):
        raise TokensFormatError(f"token file is corrupt: bad shape {shape}")
    if header["dtype"] not in ("uint8", "uint16", "uint32"):
        raise TokensFormatError(f"token file is corrupt: bad dtype {header['dtype']!r}")
    if header["codebook_size"] < 1 or header["groups"] < 1:
        raise TokensFormatError("token file is corrupt: bad codebook_size/groups")
    if len(header["lengths"]) != shape[0] or len(header["num_samples"]) != shape[0]:
        raise TokensFormatError("token file is corrupt: lengths do not match batch size")
    return shape, np.dtype(header["dtype"])  # type: ignore[return-value]
