"""The vocabulary an LM sees: special ids, per-codebook offsets and a named sequence layout.

Id space (``V = num_special + num_codebooks * codebook_size``)::

    0 .. num_special-1                      special ids: PAD=0, BOS=1, EOS=2, SEP=3 by default
    num_special + k*codebook_size + c       code c of codebook k (k in group-major order)

Layouts (``Vocabulary.encode`` / ``decode``; codes ``[K, T]`` <-> one LM sequence):

=================== ============== ===========================================================
name                shape          content
=================== ============== ===========================================================
``flatten``         ``[L]``        frame-major ``t0k0 t0k1 .. t1k0 ..``, ``L = K*T``
``flatten_sep``     ``[L]``        frame-major with SEP after every frame, ``L = (K+1)*T``
``flatten_codebook`` ``[L]``       codebook-major ``k0t0 k0t1 .. k1t0 ..``
``parallel``        ``[K, T]``     one row per codebook, no shift
``delay``           ``[K, T+D]``   row k shifted right by ``delays[k]`` (default k), PAD-filled;
                                   ``D = max(delays)``
``ar_nar``          ``[K, T]``     row 0 is the AR stream, rows 1.. the NAR streams (VALL-E)
=================== ============== ===========================================================

With ``add_bos_eos`` a 1-D sequence becomes ``BOS .. EOS``; a 2-D one gains a first and a last
column: all BOS / all EOS for ``parallel`` and ``delay``, and for ``ar_nar`` BOS / EOS on row 0
with PAD on the NAR rows (only the AR stream has a start and an end). With ``interleave`` the
GRVQ groups are put level-major (``g0l0 g1l0 g0l1 ..``) before the layout; ids keep the offset of
the codebook they came from, so decoding is exact either way.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from codec.fileio import atomic_write_bytes
from codec.lm import layouts as L

__all__ = ["LAYOUTS", "VOCAB_FORMAT", "Vocabulary"]

LAYOUTS = ("flatten", "flatten_sep", "flatten_codebook", "parallel", "delay", "ar_nar")
VOCAB_FORMAT = "codec-lm-vocabulary"
_FLAT = {"flatten": "frame", "flatten_sep": "frame", "flatten_codebook": "codebook"}
_DERIVED = ("offsets", "vocab_size", "special_ids", "format")


@dataclass(frozen=True)
class Vocabulary:
    """How codes ``[K, T]`` of one utterance become LM ids, and back. JSON via
    :meth:`to_json` / :meth:`from_json` (derived fields ``offsets``, ``vocab_size`` and
    ``special_ids`` are written for the LM's benefit and checked on load)."""

    codebook_size: int
    num_codebooks: int
    groups: int = 1
    layout: str = "delay"
    delays: tuple[int, ...] | None = None
    interleave: bool = False
    num_special: int = 4
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    sep_id: int = 3
    frame_rate: float = 0.0
    sample_rate: int = 0
    model_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("codebook_size", "num_codebooks", "groups", "num_special"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")
        if self.num_codebooks % self.groups:
            raise ValueError(f"{self.num_codebooks} codebooks cannot form {self.groups} groups")
        specials = self.special_ids
        if len(set(specials.values())) != len(specials):
            raise ValueError(f"special ids collide: {specials}")
        bad = {k: v for k, v in specials.items() if not 0 <= v < self.num_special}
        if bad:
            raise ValueError(f"special ids must lie in [0, num_special={self.num_special}): {bad}")
        if self.delays is not None:
            object.__setattr__(self, "delays", tuple(int(d) for d in self.delays))
            L.check_delays(self.num_codebooks, self.delays)

    # ------------------------------------------------------------------ id space
    @property
    def special_ids(self) -> dict[str, int]:
        return {"pad": self.pad_id, "bos": self.bos_id, "eos": self.eos_id, "sep": self.sep_id}

    @property
    def offsets(self) -> list[int]:
        """First id of each codebook (group-major order)."""
        return [self.num_special + k * self.codebook_size for k in range(self.num_codebooks)]

    @property
    def vocab_size(self) -> int:
        return self.num_special + self.num_codebooks * self.codebook_size

    @property
    def levels(self) -> int:
        return self.num_codebooks // self.groups

    @property
    def sequence_dim(self) -> int:
        """1 for the flat layouts (``[L]``), 2 for the multi-stream ones (``[K, L]``)."""
        return 1 if self.layout in _FLAT else 2

    def code_range(self, codebook: int) -> tuple[int, int]:
        """Ids ``[lo, hi)`` of codebook ``codebook`` (group-major index)."""
        if not 0 <= codebook < self.num_codebooks:
            raise ValueError(f"codebook must be in [0, {self.num_codebooks}), got {codebook}")
        lo = self.offsets[codebook]
        return lo, lo + self.codebook_size

    def stream_order(self) -> list[int]:
        """Group-major codebook index of each row the layout emits (identity unless
        ``interleave``)."""
        order = torch.arange(self.num_codebooks)[:, None]
        if self.interleave:
            order = L.interleave_groups(order, self.groups)
        return [int(v) for v in order[:, 0]]

    def codes_to_ids(self, codes: Any) -> Tensor:
        """Codes ``[K, T]`` -> ids ``[K, T]`` (offsets only, no layout)."""
        codes = L.check_codes(codes, self.codebook_size, self.num_codebooks)
        return L.add_offsets(codes, self.codebook_size, self.num_special)

    def ids_to_codes(self, ids: Any) -> Tensor:
        """Inverse of :meth:`codes_to_ids`."""
        ids = L.as_long(ids, "ids")
        if ids.shape[0] != self.num_codebooks:
            raise ValueError(f"expected {self.num_codebooks} rows of ids, got {tuple(ids.shape)}")
        return L.remove_offsets(ids, self.codebook_size, self.num_special)

    # ------------------------------------------------------------------ layouts
    def encode(self, codes: Any, add_bos_eos: bool = True) -> Tensor:
        """Codes ``[K, T]`` -> one LM sequence in :attr:`layout` (see the module docstring)."""
        ids = self.codes_to_ids(codes)
        if self.interleave:
            ids = L.interleave_groups(ids, self.groups)
        if self.layout in _FLAT:
            sep = self.sep_id if self.layout == "flatten_sep" else None
            seq = L.flatten(ids, _FLAT[self.layout], sep)
            if add_bos_eos:
                seq = torch.cat([torch.tensor([self.bos_id]), seq, torch.tensor([self.eos_id])])
            return seq
        if self.layout == "delay":
            ids = L.delay(ids, self.pad_id, self.delays)
        if not add_bos_eos:
            return ids
        k = ids.shape[0]
        first = torch.full((k, 1), self.bos_id)
        last = torch.full((k, 1), self.eos_id)
        if self.layout == "ar_nar":
            first[1:] = self.pad_id
            last[1:] = self.pad_id
        return torch.cat([first, ids, last], dim=1)

    def decode(self, seq: Any, strict: bool = True) -> Tensor:
        """Inverse of :meth:`encode`: one LM sequence -> codes ``[K, T]``.

        A leading BOS (row 0 for 2-D layouts) is dropped and the sequence is cut at the first EOS.
        With ``strict`` the delay padding must be PAD; otherwise it is ignored (sampled output).
        Any other special or foreign id raises ``ValueError``.
        """
        seq = L.as_long(seq, "sequence", dim=self.sequence_dim)
        head = seq if seq.dim() == 1 else seq[0]
        start = 1 if head.numel() and int(head[0]) == self.bos_id else 0
        ends = (head[start:] == self.eos_id).nonzero()
        stop = start + int(ends[0]) if len(ends) else head.numel()
        seq = seq[start:stop] if seq.dim() == 1 else seq[:, start:stop]
        if self.layout in _FLAT:
            sep = self.sep_id if self.layout == "flatten_sep" else None
            ids = L.unflatten(seq, self.num_codebooks, _FLAT[self.layout], sep)
        else:
            if seq.shape[0] != self.num_codebooks:
                raise ValueError(f"expected {self.num_codebooks} rows, got {tuple(seq.shape)}")
            ids = seq
            if self.layout == "delay":
                ids = L.undelay(ids, self.delays, self.pad_id if strict else None)
        if self.interleave:
            ids = L.deinterleave_groups(ids, self.groups)
        return self.ids_to_codes(ids)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["delays"] = list(self.delays) if self.delays is not None else None
        data.update(
            format=VOCAB_FORMAT,
            offsets=self.offsets,
            vocab_size=self.vocab_size,
            special_ids=self.special_ids,
        )
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        if not isinstance(data, dict):
            raise ValueError(f"vocabulary must be a JSON object, got {type(data).__name__}")
        if data.get("format", VOCAB_FORMAT) != VOCAB_FORMAT:
            raise ValueError(f"not a vocabulary description (format {data.get('format')!r})")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known - set(_DERIVED))
        if unknown:
            raise ValueError(f"unknown vocabulary field(s): {', '.join(unknown)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        if kwargs.get("delays") is not None:
            kwargs["delays"] = tuple(kwargs["delays"])
        try:
            vocab = cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"bad vocabulary description: {exc}") from None
        for key in ("offsets", "vocab_size", "special_ids"):
            if key in data and data[key] != getattr(vocab, key):
                raise ValueError(
                    f"vocabulary field '{key}' is {data[key]!r} but the other fields imply "
                    f"{getattr(vocab, key)!r}"
                )
        return vocab

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"vocabulary is not valid JSON: {exc.msg}") from None
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        atomic_write_bytes(path, (self.to_json() + "\n").encode("utf-8"), force=force)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def for_codec(cls, source: Any, layout: str = "delay", **kwargs: Any) -> Vocabulary:
        """Vocabulary for a :class:`~codec.model.Codec`, :class:`~codec.tokens.Tokens` or a shard
        manifest dict (``num_codebooks`` may be overridden in ``kwargs``)."""
        if isinstance(source, dict):
            facts = {k: source[k] for k in ("codebook_size", "num_codebooks", "groups")}
            facts |= {k: source[k] for k in ("frame_rate", "sample_rate", "model_id")}
        else:
            model_id = getattr(source, "model_id", None)
            if model_id is None:  # a Codec keeps its id in the config
                model_id = source.config.model_id
            facts = {
                "codebook_size": int(source.codebook_size),
                "num_codebooks": int(source.num_codebooks),
                "groups": int(source.groups),
                "frame_rate": float(source.frame_rate),
                "sample_rate": int(source.sample_rate),
                "model_id": str(model_id),
            }
        facts.update(kwargs)
        return cls(layout=layout, **facts)
