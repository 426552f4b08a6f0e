"""Shared fixtures and helpers of the command-line tests: tiny saved models, test tones written
to real files in ``tmp_path``, and ``cli`` to run ``codec ...`` in-process."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio import load_audio
from codec.cli import main
from codec.model import Codec
from codec.tokens import Tokens
from tests.conftest import tiny_config

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
SR = 16000


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny saved models: causal, non-causal (reflect padding) and causal with reflect padding."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    Codec(tiny_config()).eval().save_pretrained(root / "causal")
    torch.manual_seed(0)
    Codec(tiny_config(causal=False, pad_mode="reflect")).eval().save_pretrained(root / "noncausal")
    torch.manual_seed(0)
    Codec(tiny_config(pad_mode="reflect")).eval().save_pretrained(root / "reflect")
    return {k: root / k for k in ("causal", "noncausal", "reflect")}


def tone(n: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(n)
    return np.repeat(x[:, None], channels, 1).astype(np.float32)


def write(path: Path, n: int = 1600, seed: int = 0, sr: int = SR, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = int(kw.pop("channels", 1))  # type: ignore[call-overload]
    sf.write(str(path), tone(n, seed, channels), sr, **kw)  # type: ignore[arg-type]
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def offline(model: Path, path: Path) -> Tokens:
    """Reference tokens: ``Codec.encode`` of the file zero-padded to whole frames (how the
    command line encodes, so that batching never changes an item's last frame)."""
    codec = Codec.from_pretrained(model)
    wav = load_audio(path, sample_rate=codec.sample_rate).wav
    n = wav.shape[-1]
    padded = torch.nn.functional.pad(wav, (0, -n % codec.hop_length))
    tokens = codec.encode(padded, codec.sample_rate)
    return replace(tokens, num_samples=torch.tensor([n]))


def unstamped(path: Path) -> bytes:
    """A token file's bytes without its source stamp (what offline encoding gives)."""
    return replace(Tokens.load(path), source=None).to_bytes()


def with_code(data: bytes, code: int) -> bytes:
    """A token file whose first code is replaced (checksum fixed): codes out of range."""
    magic, version, hlen, _ = struct.unpack_from("<4sBII", data)
    header = json.loads(data[13 : 13 + hlen])
    payload = bytearray(data[13 + hlen :])
    payload[0] = code
    header["crc32"] = zlib.crc32(bytes(payload))
    raw = json.dumps(header, sort_keys=True).encode()
    prefix = struct.pack("<4sBII", magic, version, len(raw), zlib.crc32(raw))
    return prefix + raw + bytes(payload)
