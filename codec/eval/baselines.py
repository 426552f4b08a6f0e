"""Reference systems for ``codec eval``: Opus (through libsndfile), an 8 kHz telephone band
(plain or G.711 mu-law), and converted peer models.

Opus goes through ``soundfile``: libsndfile writes Ogg/Opus and maps ``compression_level``
linearly onto the Opus bitrate, 0.0 -> 256 kbps and 1.0 -> 6 kbps per channel (measured with
libsndfile 1.2.2; ``bitrate_mode`` is refused for Opus there). So Opus cannot go below 6 kbps;
the report shows the bitrate measured from the Ogg file next to the nominal one.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from codec.audio import resample
from codec.eval.scores import align
from codec.eval.systems import System, SystemOutput, codec_systems
from codec.loading import load_model

__all__ = [
    "OPUS_MAX_BITRATE",
    "OPUS_MIN_BITRATE",
    "OPUS_RATES",
    "OpusSystem",
    "ResampleSystem",
    "SoundFileSystem",
    "ogg_payload_bytes",
    "opus_bitrate",
    "opus_level",
    "parse_baselines",
    "parse_bitrate",
]

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
"""Input rates libsndfile's Opus encoder accepts."""
OPUS_MIN_BITRATE = 6000.0
OPUS_MAX_BITRATE = 256000.0
OPUS_LADDER = (6000.0, 8000.0, 12000.0)
"""The lowest Opus bitrates evaluated by ``--baselines opus``."""
ENCODEC_CODEBOOKS = (2, 4, 8)
"""EnCodec 24 kHz at 1.5, 3 and 6 kbps."""


def opus_level(bitrate: float) -> float:
    """libsndfile ``compression_level`` that gives ``bitrate`` bits/s (mono), clamped to the
    6-256 kbps range Opus supports."""
    span = OPUS_MAX_BITRATE - OPUS_MIN_BITRATE
    return float(np.clip(1.0 - (bitrate - OPUS_MIN_BITRATE) / span, 0.0, 1.0))


def opus_bitrate(level: float) -> float:
    """Nominal Opus bitrate (bits/s, mono) of a libsndfile ``compression_level``."""
    return OPUS_MIN_BITRATE + (1.0 - level) * (OPUS_MAX_BITRATE - OPUS_MIN_BITRATE)


def ogg_payload_bytes(data: bytes) -> int:
    """Bytes of Opus audio packets in an Ogg file: page bodies, without the page headers and the
    ``OpusHead`` / ``OpusTags`` pages. Raises ``ValueError`` on a malformed stream."""
    pos, total = 0, 0
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS" or pos + 27 > len(data):
            raise ValueError(f"not an Ogg page at byte {pos}")
        segments = data[pos + 26]
        table = data[pos + 27 : pos + 27 + segments]
        body = sum(table)
        start = pos + 27 + segments
        if start + body > len(data):
            raise ValueError("truncated Ogg page")
        if data[start : start + 8] not in (b"OpusHead", b"OpusTags"):
            total += body
        pos = start + body
    return total


def parse_bitrate(text: str) -> float:
    """``"6k"``, ``"6kbps"``, ``"6000"``, ``"1.5k"`` -> bits/s."""
    value = text.strip().lower().removesuffix("bps").removesuffix("b")
    scale = 1.0
    if value.endswith("k"):
        value, scale = value[:-1], 1000.0
    try:
        return float(value) * scale
    except ValueError:
        raise ValueError(f"not a bitrate: {text!r} (use e.g. 6k or 6000)") from None


def _kbps(bitrate: float) -> str:
    return f"{bitrate / 1000:g}"


class SoundFileSystem(System):
    """A format libsndfile writes: resample to :meth:`coded_rate`, write an in-memory file with
    :meth:`write_options`, read it back and resample back. ``time_resampling`` counts the
    resampling in the encode / decode times (it is part of the codec, e.g. a band limit)."""

    time_resampling = False

    def coded_rate(self, sample_rate: int) -> int:
        """The rate the signal is stored at."""
        return sample_rate

    def write_options(self) -> dict[str, Any]:
        """``format``, ``subtype`` and other keywords of :func:`soundfile.write`."""
        return {"format": "WAV", "subtype": "PCM_16"}

    def payload_bytes(self, data: bytes, samples: int) -> int:
        """Bytes of coded audio in ``data`` (a file of ``samples`` samples), without headers."""
        return len(data)

    def process(self, wav: Tensor, sample_rate: int) -> SystemOutput:
        rate = self.coded_rate(sample_rate)
        t0 = time.perf_counter()
        x = resample(wav.reshape(-1).float().cpu(), sample_rate, rate).numpy()
        t1 = time.perf_counter()
        buffer = io.BytesIO()
        sf.write(buffer, np.clip(x, -1.0, 1.0), rate, **self.write_options())
        t2 = time.perf_counter()
        data = buffer.getvalue()
        decoded, _ = sf.read(io.BytesIO(data), dtype="float32")
        t3 = time.perf_counter()
        y = resample(torch.from_numpy(np.ascontiguousarray(decoded)), rate, sample_rate)
        t4 = time.perf_counter()
        return SystemOutput(
            audio=align(y, wav.shape[-1]),
            file_bytes=len(data),
            payload_bytes=self.payload_bytes(data, len(decoded)),
            encode_seconds=t2 - (t0 if self.time_resampling else t1),
            decode_seconds=(t4 if self.time_resampling else t3) - t2,
        )


class OpusSystem(SoundFileSystem):
    """Opus in Ogg through libsndfile at ``bitrate`` bits/s (6-256 kbps). The input is resampled
    to the nearest Opus rate at or above it (at most 48 kHz) and back."""

    kind = "opus"
    family = "opus"

    def __init__(self, bitrate: float = OPUS_MIN_BITRATE, name: str | None = None) -> None:
        self.level = opus_level(bitrate)
        self.nominal_bitrate = opus_bitrate(self.level)
        self.name = name or f"opus {_kbps(self.nominal_bitrate)} kbps"

    def info(self) -> dict[str, Any]:
        return {
            "compression_level": self.level,
            "libsndfile": sf.__libsndfile_version__,
            "soundfile": sf.__version__,
        }

    @staticmethod
    def codec_rate(sample_rate: int) -> int:
        """The Opus input rate used for audio at ``sample_rate``."""
        return next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1])

    def coded_rate(self, sample_rate: int) -> int:
        return self.codec_rate(sample_rate)

    def write_options(self) -> dict[str, Any]:
        return {"format": "OGG", "subtype": "OPUS", "compression_level": self.level}

    def payload_bytes(self, data: bytes, samples: int) -> int:
        return ogg_payload_bytes(data)


class ResampleSystem(SoundFileSystem):
    """Band limitation: resample to ``rate`` (8 kHz: telephone) and back, stored as a WAV of
    ``subtype`` (``PCM_16``: 128 kbps at 8 kHz; ``ULAW``: G.711 mu-law, 64 kbps)."""

    kind = "resample"
    time_resampling = True

    def __init__(self, rate: int = 8000, subtype: str = "PCM_16", name: str | None = None) -> None:
        bits = {"PCM_16": 16, "ULAW": 8, "ALAW": 8, "PCM_U8": 8, "PCM_24": 24}
        if subtype not in bits:
            raise ValueError(f"subtype must be one of {sorted(bits)}, got {subtype!r}")
        self.rate, self.subtype, self.bits = rate, subtype, bits[subtype]
        self.nominal_bitrate = float(rate * self.bits)
        label = "G.711 mu-law" if subtype == "ULAW" else f"{self.bits}-bit PCM"
        self.name = name or f"{rate / 1000:g} kHz {label}"
        self.family = self.name

    def info(self) -> dict[str, Any]:
        return {"rate": self.rate, "subtype": self.subtype}

    def coded_rate(self, sample_rate: int) -> int:
        return self.rate

    def write_options(self) -> dict[str, Any]:
        return {"format": "WAV", "subtype": self.subtype}

    def payload_bytes(self, data: bytes, samples: int) -> int:
        return samples * self.bits // 8


def parse_baselines(
    spec: str,
    codec_bitrates: Sequence[float] = (),
    device: str = "cpu",
    stability_cycles: int = 5,
) -> tuple[list[System], list[str]]:
    """Systems for a ``--baselines`` comma list, and notes for the user.

    - ``opus``: Opus at 6, 8 and 12 kbps and at each codec bitrate Opus can reach.
    - ``opus:6k`` (or ``opus:6000``): Opus at one bitrate.
    - ``8k`` / ``telephone``: resampled to 8 kHz and back (16-bit PCM); ``ulaw`` / ``g711``:
      the same stored as G.711 mu-law; ``resample:RATE``: another band limit.
    - ``encodec:PATH``: EnCodec 24 kHz converted from ``PATH`` at 2, 4 and 8 codebooks
      (1.5, 3, 6 kbps); ``encodec:PATH@2,4`` picks the codebook counts.
    - ``none``: nothing.
    """
    systems: list[System] = []
    notes: list[str] = []
    opus_rates: list[float] = []
    for raw in _split(spec):
        name, _, arg = raw.partition(":")
        name = name.lower()
        if name == "opus":
            opus_rates += _opus_rates(arg, codec_bitrates, notes)
        elif name != "none":
            systems += _baseline(raw, name, arg, device, stability_cycles)
    unique = sorted(set(opus_rates))  # Opus first, lowest bitrate first
    return [*(OpusSystem(rate) for rate in unique), *systems], notes


def _opus_rates(arg: str, codec_bitrates: Sequence[float], notes: list[str]) -> list[float]:
    """Opus bitrates of one ``opus`` or ``opus:RATE`` entry."""
    if arg:
        return [_opus_target(parse_bitrate(arg), notes)]
    return [*OPUS_LADDER, *(_opus_target(rate, notes) for rate in codec_bitrates)]


def _baseline(raw: str, name: str, arg: str, device: str, stability_cycles: int) -> list[System]:
    """The systems of one non-Opus ``--baselines`` entry ``raw`` (``name:arg``)."""
    if name in ("8k", "telephone") and not arg:
        return [ResampleSystem(8000, "PCM_16")]
    if name in ("ulaw", "g711") and not arg:
        return [ResampleSystem(8000, "ULAW")]
    if name == "resample" and arg:
        return [ResampleSystem(int(parse_bitrate(arg)))]
    if name == "encodec" and arg:
        path, _, ks = arg.rpartition("@") if "@" in arg else (arg, "", "")
        counts = [int(k) for k in ks.split(",") if k] or list(ENCODEC_CODEBOOKS)
        model = load_model(f"encodec_24khz:{path}").to(device).eval()
        return list(
            codec_systems(model, counts, family="encodec_24khz", stability_cycles=stability_cycles)
        )
    raise ValueError(
        f"unknown baseline {raw!r}: use opus, opus:6k, 8k, ulaw, resample:RATE, "
        "encodec:PATH or none"
    )


def _opus_target(bitrate: float, notes: list[str]) -> float:
    if bitrate < OPUS_MIN_BITRATE:
        note = (
            f"Opus cannot go below {_kbps(OPUS_MIN_BITRATE)} kbps; "
            f"{_kbps(bitrate)} kbps is compared with Opus at {_kbps(OPUS_MIN_BITRATE)} kbps"
        )
        if note not in notes:
            notes.append(note)
    return float(np.clip(round(bitrate), OPUS_MIN_BITRATE, OPUS_MAX_BITRATE))


def _split(spec: str) -> list[str]:
    """Split a comma list, keeping ``@2,4`` codebook lists with their ``encodec:PATH@``."""
    parts: list[str] = []
    for piece in spec.split(","):
        piece = piece.strip()
        if not piece:
            continue
        if piece.isdigit() and parts and "@" in parts[-1]:
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return parts
