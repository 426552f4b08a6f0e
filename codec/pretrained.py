"""Persistence of exported models: ``config.json`` + ``model.safetensors`` + a model card.

Pure functions over a config and a module's state dict; the :class:`~codec.model.Codec`
methods ``save_pretrained`` / ``from_pretrained`` call them. Weights are safetensors (no pickle).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from codec.config import CodecConfig
from codec.fileio import atomic_path, atomic_write_bytes, read_versioned_json

__all__ = [
    "CONFIG_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "check_state_dict",
    "config_bytes",
    "load_state",
    "load_weights",
    "model_card",
    "read_config",
    "save_pretrained",
    "write_config",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "codec-pretrained"
FORMAT_VERSION = 1


def config_bytes(config: CodecConfig) -> bytes:
    """The ``config.json`` text of ``config`` (format tag, version, the config itself)."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config.to_dict()}
    return json.dumps(meta, indent=2).encode()


def write_config(path: Path, config: CodecConfig, force: bool = True) -> Path:
    """Write ``config`` as a ``config.json`` at ``path`` (atomically)."""
    atomic_write_bytes(path, config_bytes(config), force=force)
    return path


def save_pretrained(model: nn.Module, config: CodecConfig, out: Path, force: bool = False) -> Path:
    """Write ``model``'s weights, ``config`` and a model card into the folder ``out``."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS_NAME, force=force) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT})
    write_config(out / CONFIG_NAME, config)
    atomic_write_bytes(out / "README.md", model_card(config).encode(), force=True)
    return out


def read_config(path: Path) -> CodecConfig:
    """Read and validate a ``config.json``; unknown keys and wrong types give a clear error."""
    meta = read_versioned_json(path, "model config", "a codec model config", FORMAT, FORMAT_VERSION)
    return CodecConfig.from_dict(meta.get("config", {}))


def load_weights(model: nn.Module, path: Path) -> None:
    """Load safetensors weights, refusing missing/unexpected keys and wrong shapes clearly."""
    if not path.exists():
        raise ValueError(f"model weights not found: {path}")
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"cannot read model weights {path}: {exc}") from None
    check_state_dict(model.state_dict(), state, str(path))
    model.load_state_dict(state)


def check_state_dict(expected: dict[str, Tensor], got: dict[str, Tensor], where: str) -> None:
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{where}: weights do not match the config "
            f"(missing: {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected: {unexpected[:5]}{'...' if len(unexpected) > 5 else ''})"
        )
    for key, value in expected.items():
        if tuple(got[key].shape) != tuple(value.shape):
            raise ValueError(
                f"{where}: '{key}' has shape {tuple(got[key].shape)}, the config needs {tuple(value.shape)}"
            )


def model_card(cfg: CodecConfig) -> str:
    """A short README for an exported model."""
    q = cfg.quantizer
    kbps = cfg.frame_rate * q.num_codebooks * math.log2(q.codebook_size) / 1000
    return (
        f"# {cfg.model_id}\n\n"
        f"Neural audio codec exported by `codec`.\n\n"
        f"- sample rate: {cfg.sample_rate} Hz, frame rate: {cfg.frame_rate:g} frames/s "
        f"(hop {cfg.hop_length})\n"
        f"- quantizer: {q.layout_text} = {kbps:g} kbps at all codebooks\n"
        f"- causal: {cfg.seanet.causal}\n"
        f"{encoder_line(cfg)}{decoder_line(cfg)}\n"
        "Load with `Codec.from_pretrained(path)`; weights are safetensors (no pickle).\n"
    )


def encoder_line(cfg: CodecConfig) -> str:
    """The model card's line on a non-default encoder (empty for the architecture's own)."""
    if cfg.architecture != "seanet" or cfg.encoder == "seanet":
        return ""
    s = cfg.spectral
    return (
        f"- encoder: spectral (causal STFT n_fft {s.n_fft}, {s.num_blocks} ConvNeXt blocks "
        f"of {s.dim} channels)\n"
    )


def decoder_line(cfg: CodecConfig) -> str:
    """The model card's line on a non-default decoder (empty for the architecture's own)."""
    if cfg.architecture != "seanet" or cfg.decoder == "seanet":
        return ""
    v = cfg.vocos
    return (
        f"- decoder: vocos ({v.num_blocks} ConvNeXt blocks of {v.dim} channels, "
        f"causal iSTFT n_fft {v.n_fft})\n"
    )


def load_state(model: nn.Module, state: dict[str, Tensor], where: str, hint: str = "") -> None:
    """Check ``state`` against ``model`` (clear one-line errors, ``hint`` appended) and load it
    in the model's dtypes."""
    expected = model.state_dict()
    try:
        check_state_dict(expected, state, where)
    except ValueError as exc:
        raise ValueError(f"{exc}{hint}") from None
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
