"""Discrete tokens and their binary file format (never pickle).

File layout, version 3 (all little-endian)::

    magic    4 bytes  b"CDTK"
    version  1 byte   (FORMAT_VERSION)
    hlen     4 bytes  uint32, length of the JSON header
    hcrc     4 bytes  uint32, CRC32 of the JSON header bytes
    header   hlen bytes, UTF-8 JSON (shapes, rates, layout, model id and fingerprint, source
             stamp, the packing: codes_per_word and word_bits, CRC32 of the payload)
    payload  codes [B, K, T] in C order, bit-packed by :mod:`codec.bitpack`: 10 bits per code
             of a 1024-code book, so payload bits / duration is the nominal bitrate

Version 2 (same prefix; the header names a ``dtype`` instead of the packing) stored codes in
the smallest unsigned integer type that holds ``codebook_size - 1``; it still loads and can
still be written (``to_bytes(version=2)``). Version 1 files (no ``hcrc``, no fingerprint) still
load: their payload CRC is checked and every header field is validated against the codes, but a
header edit that stays consistent cannot be detected there.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from codec.bitpack import Packing, PackingError, pack_codes, unpack_codes
from codec.fileio import atomic_write_bytes
from codec.token_checks import (
    MAGIC,
    PREFIXES,
    SourceStamp,
    TokensFormatError,
    check_code_range,
    check_fields,
    check_header,
    check_lengths,
    code_dtype,
    shape_of,
    split_file,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "WRITE_VERSIONS",
    "SourceStamp",
    "Tokens",
    "TokensFormatError",
    "code_dtype",
    "payload_bytes",
    "torch_code_dtype",
]

FORMAT_VERSION = 3
WRITE_VERSIONS = (2, 3)


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

    def to_bytes(self, version: int = FORMAT_VERSION) -> bytes:
        """The token file: format ``version`` 3 (bit-packed codes) or 2 (one unsigned integer
        type per code, for readers that predate version 3)."""
        if version not in WRITE_VERSIONS:
            raise ValueError(f"token file version must be one of {WRITE_VERSIONS}, got {version!r}")
        codes = self.codes.detach().cpu().numpy()
        fields: dict[str, Any]
        if version == 3:
            packing = Packing.for_codebook(self.codebook_size)
            payload = pack_codes(codes, packing)
            fields = {"codes_per_word": packing.codes_per_word, "word_bits": packing.word_bits}
        else:
            dtype = code_dtype(self.codebook_size)
            payload = codes.astype(dtype.newbyteorder("<"), copy=False).tobytes()
            fields = {"dtype": dtype.name}
        header = self._header(zlib.crc32(payload)) | fields
        raw = json.dumps(header, sort_keys=True).encode("utf-8")
        return PREFIXES[version].pack(MAGIC, version, len(raw), zlib.crc32(raw)) + raw + payload

    def _header(self, crc: int) -> dict[str, Any]:
        source = self.source
        return {
            "shape": list(self.codes.shape),
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
        """Parse a token file (version 1, 2 or 3); TokensFormatError names what is wrong."""
        version, header, payload = split_file(data)
        shape = check_header(header, version)
        codes = _payload_codes(header, version, payload, shape)
        size = header["codebook_size"]
        try:
            return cls(
                codes=torch.from_numpy(codes.astype(code_dtype(size)).reshape(shape)),
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

    def payload_bits(self) -> int:
        """Bits of packed codes in this batch's version-3 token file (before byte padding)."""
        return Packing.for_codebook(self.codebook_size).payload_bits(self.codes.numel())

    @property
    def duration(self) -> float:
        """Seconds of audio these tokens stand for (all items)."""
        return int(self.num_samples.sum()) / self.sample_rate

    def save(
        self, path: str | os.PathLike[str], force: bool = False, version: int = FORMAT_VERSION
    ) -> None:
        """Write atomically (temp file + rename); refuse to overwrite unless ``force``."""
        atomic_write_bytes(path, self.to_bytes(version), force=force)

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


def payload_bytes(data: bytes) -> int:
    """Bytes of packed codes in the token file ``data`` (all but the prefix and header)."""
    return len(split_file(data).payload)


def _payload_codes(
    header: dict[str, Any], version: int, payload: bytes, shape: tuple[int, int, int]
) -> np.ndarray:
    """The codes of a checked header's ``payload``, flat, each checked < codebook_size."""
    size, count = header["codebook_size"], shape[0] * shape[1] * shape[2]
    if version >= 3:
        try:
            packing = Packing(size, header["codes_per_word"], header["word_bits"])
        except PackingError as exc:
            raise TokensFormatError(f"token file is corrupt: {exc}") from None
        expected = packing.payload_bytes(count)
    else:
        dtype = np.dtype(header["dtype"]).newbyteorder("<")
        expected = count * dtype.itemsize
    if len(payload) != expected:
        raise TokensFormatError(
            f"token file is truncated or padded: payload {len(payload)} bytes, expected {expected}"
        )
    if zlib.crc32(payload) != header["crc32"]:
        raise TokensFormatError("token file is corrupt: checksum mismatch")
    if version >= 3:
        try:
            return unpack_codes(payload, count, packing)
        except PackingError as exc:
            raise TokensFormatError(f"token file is corrupt: {exc}") from None
    codes = np.frombuffer(payload, dtype=dtype)
    if codes.size and codes.max() >= size:
        raise TokensFormatError("token file holds codes outside the codebook")
    return codes


def _source(value: Any) -> SourceStamp | None:
    if value is None:
        return None
    if set(value) != {"name", "size", "mtime_ns"}:
        raise ValueError(f"source must have name, size and mtime_ns, got {sorted(value)}")
    return SourceStamp(value["name"], value["size"], value["mtime_ns"])
