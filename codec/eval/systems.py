"""What ``codec eval`` measures: a :class:`System` turns audio into bits and back; a
:class:`CodecSystem` is a :class:`~codec.model.Codec` at some number of codebooks."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from codec.audio import resample
from codec.eval.scores import align
from codec.tokens import payload_bytes

if TYPE_CHECKING:
    from codec.model import Codec

__all__ = ["CodecSystem", "System", "SystemOutput", "codec_systems", "token_payload_bytes"]


@dataclass
class SystemOutput:
    """One utterance through a system: ``audio`` [T] at the input rate and length, the size of
    what would be stored or sent (``file_bytes``, ``payload_bytes`` without container headers),
    wall-clock ``encode_seconds`` / ``decode_seconds``, and for neural codecs the valid
    ``codes`` [K, F] and the fraction of identical codes after decode -> re-encode cycles."""

    audio: Tensor
    file_bytes: int | None = None
    payload_bytes: int | None = None
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0
    codes: Tensor | None = None
    stability: dict[int, float] | None = None


class System(ABC):
    """Something that turns audio into bits and back. ``family`` groups systems drawn as one
    line (same codec, several bitrates); ``nominal_bitrate`` in bits/s (``None`` if unknown)."""

    name: str = "system"
    family: str = "system"
    kind: str = "system"
    nominal_bitrate: float | None = None

    @abstractmethod
    def process(self, wav: Tensor, sample_rate: int) -> SystemOutput:
        """Encode and decode mono ``wav`` [T] at ``sample_rate``; audio back at the same rate."""

    def warmup(self, sample_rate: int) -> None:  # noqa: B027 - optional hook
        """Run once before timing (lazy initialisation, allocator warm-up)."""

    def info(self) -> dict[str, Any]:
        """Settings recorded in the report."""
        return {}

    @property
    def codebook_size(self) -> int | None:
        """Codes per codebook for systems that make codes (usage statistics), else ``None``."""
        return None


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock times measure it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def token_payload_bytes(data: bytes) -> int:
    """Bytes of packed codes in a token file (everything after the magic, version and header)."""
    return payload_bytes(data)


class CodecSystem(System):
    """A :class:`~codec.model.Codec` at ``num_codebooks``; ``stability_cycles`` decode ->
    re-encode cycles measure token stability (0 disables)."""

    kind = "codec"

    def __init__(
        self,
        model: Codec,
        num_codebooks: int | None = None,
        name: str | None = None,
        family: str | None = None,
        stability_cycles: int = 5,
    ) -> None:
        self.model = model.eval()
        self.num_codebooks = model.check_num_codebooks(num_codebooks)
        self.family = family or model.config.model_id
        self.name = name or f"{self.family} K={self.num_codebooks}"
        self.nominal_bitrate = model.bitrate(self.num_codebooks)
        self.stability_cycles = stability_cycles

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "model_id": cfg.model_id,
            "num_codebooks": self.num_codebooks,
            "max_codebooks": self.model.num_codebooks,
            "codebook_size": self.model.codebook_size,
            "groups": self.model.groups,
            "sample_rate": self.model.sample_rate,
            "frame_rate": self.model.frame_rate,
            "causal": cfg.seanet.causal,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.model.device),
        }

    def warmup(self, sample_rate: int) -> None:
        wav = torch.randn(1, 1, self.model.sample_rate) * 0.01
        tokens = self.model.encode(wav, self.model.sample_rate, num_codebooks=self.num_codebooks)
        self.model.decode(tokens)

    def process(self, wav: Tensor, sample_rate: int) -> SystemOutput:
        model, k = self.model, self.num_codebooks
        rate = model.sample_rate
        x = resample(wav.reshape(1, 1, -1).float(), sample_rate, rate)
        device = model.device
        _sync(device)
        start = time.perf_counter()
        tokens = model.encode(x, rate, num_codebooks=k)
        _sync(device)
        middle = time.perf_counter()
        audio = model.decode(tokens)
        _sync(device)
        end = time.perf_counter()
        data = tokens.item(0).to_bytes()
        codes = tokens.codes[0, :, : int(tokens.lengths[0])]
        stability = self._stability(codes, audio) if self.stability_cycles > 0 else None
        out = resample(audio.mean(dim=1)[0].cpu(), rate, sample_rate)
        return SystemOutput(
            audio=align(out, wav.shape[-1]),
            file_bytes=len(data),
            payload_bytes=token_payload_bytes(data),
            encode_seconds=middle - start,
            decode_seconds=end - middle,
            codes=codes,
            stability=stability,
        )

    def _stability(self, codes: Tensor, audio: Tensor) -> dict[int, float]:
        """Fraction of codes identical to the first encode after each decode -> re-encode."""
        model, result = self.model, {}
        for cycle in range(1, self.stability_cycles + 1):
            tokens = model.encode(audio, model.sample_rate, num_codebooks=self.num_codebooks)
            again = tokens.codes[0, :, : int(tokens.lengths[0])]
            n = min(again.shape[-1], codes.shape[-1])
            same = (again[:, :n] == codes[:, :n]).double().sum() / max(codes.numel(), 1)
            result[cycle] = float(same)
            if cycle < self.stability_cycles:
                audio = model.decode(tokens)
        return result


def codec_systems(
    model: Codec,
    num_codebooks: Iterable[int] | None = None,
    family: str | None = None,
    stability_cycles: int = 5,
) -> list[CodecSystem]:
    """One :class:`CodecSystem` per codebook count (default: all codebooks)."""
    counts = [model.num_codebooks] if num_codebooks is None else list(num_codebooks)
    return [CodecSystem(model, k, family=family, stability_cycles=stability_cycles) for k in counts]
