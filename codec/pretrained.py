"""Persistence of exported models: ``config.json`` + ``model.safetensors`` + a model card.

Pure functions over a config and a module's state dict; the :class:`~codec.model.Codec`
methods ``save_pretrained`` / ``from_pretrained`` call them. Weights are safetensors (no pickle).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from codec.config import CodecConfig
from codec.fileio import atomic_path, atomic_write_bytes, read_versioned_json
from codec.hub import fetch_files, is_hub_id, upload_folder

__all__ = [
    "CONFIG_NAME",
    "CardInfo",
    "FingerprintCache",
    "LATER_KEYS",
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "check_fingerprint",
    "check_state_dict",
    "config_bytes",
    "fingerprint",
    "fingerprinted_config",
    "load_state",
    "load_weights",
    "card_metadata",
    "model_card",
    "push_to_hub",
    "read_config",
    "resolve_folder",
    "save_pretrained",
    "stored_as",
    "write_config",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "codec-pretrained"
FORMAT_VERSION = 1


def config_bytes(config: CodecConfig, model_fingerprint: str | None = None) -> bytes:
    """The ``config.json`` text of ``config`` (format tag, version, the config itself, and the
    model's fingerprint when given)."""
    meta: dict[str, object] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    if model_fingerprint:
        meta["fingerprint"] = model_fingerprint
    meta["config"] = config.to_dict()
    return json.dumps(meta, indent=2).encode()


#: Config keys (paths into ``CodecConfig.to_dict()``) added after fingerprints were
#: introduced, with the value that reproduces the behaviour from before: left out of the hash
#: at that value, so that earlier exports (and the token files that record their fingerprint)
#: still match. Register every new model key here (tests/test_pretrained.py checks).
LATER_KEYS: dict[tuple[str, ...], object] = {
    ("vocos", "phase"): "learned",
    ("vocos", "harmonic"): False,
    ("spectral", "pitch"): False,
    ("vocos", "subframes"): 1,
    ("quantizer", "codebook", "decay_warmup"): 0,
}


def fingerprinted_config(config: CodecConfig) -> dict[str, Any]:
    """``config.to_dict()`` without the :data:`LATER_KEYS` that hold their earlier value."""
    data = config.to_dict()
    for path, value in LATER_KEYS.items():
        parent: Any = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent and parent[path[-1]] == value:
            del parent[path[-1]]
    return data


def fingerprint(state: dict[str, Tensor], config: CodecConfig) -> str:
    """A content hash of a model: SHA-256 over the config (canonical JSON) and every tensor of
    ``state`` (sorted by name: name, dtype, shape, raw bytes); 32 hex digits. Models with the
    same config but other weights, or the same weights under another config, differ."""
    digest = hashlib.sha256(json.dumps(fingerprinted_config(config), sort_keys=True).encode())
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous().reshape(-1)
        digest.update(f"\0{key}\0{tensor.dtype}\0{tuple(state[key].shape)}\0".encode())
        digest.update(tensor.view(torch.uint8).numpy().data)
    return digest.hexdigest()[:32]


class FingerprintCache:
    """Remembers a model's fingerprint until a tensor of its state dict changes (replaced, or
    updated in place: torch bumps a tensor's version on every in-place write)."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] = ()
        self.value = ""

    def get(self, state: dict[str, Tensor], config: CodecConfig) -> str:
        key = (id(config), *((k, v.data_ptr(), v.dtype, v._version) for k, v in state.items()))
        if key != self.key or not self.value:
            self.key, self.value = key, fingerprint(state, config)
        return self.value


def check_fingerprint(path: Path, actual: str) -> None:
    """ValueError when the ``config.json`` at ``path`` records a fingerprint other than
    ``actual`` (the one recomputed from the loaded weights and config); none recorded is fine."""
    meta = read_versioned_json(path, "model config", "a codec model config", FORMAT, FORMAT_VERSION)
    stored = meta.get("fingerprint")
    if stored is not None and stored != actual:
        raise ValueError(
            f"{path}: records model fingerprint {stored!r} but the weights and config hash to "
            f"{actual!r} (files from different exports?); re-export with save_pretrained"
        )


def write_config(
    path: Path, config: CodecConfig, force: bool = True, model_fingerprint: str | None = None
) -> Path:
    """Write ``config`` as a ``config.json`` at ``path`` (atomically)."""
    atomic_write_bytes(path, config_bytes(config, model_fingerprint), force=force)
    return path


def save_pretrained(
    model: nn.Module,
    config: CodecConfig,
    out: Path,
    force: bool = False,
    weights_dtype: torch.dtype | None = None,
) -> Path:
    """Write ``model``'s weights, ``config`` (with the model's fingerprint) and a model card
    into the folder ``out``. ``weights_dtype`` (e.g. bfloat16) stores the floating-point
    tensors smaller; loading casts them back, and the fingerprint is of what loads back."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    stored = {k: stored_as(v, weights_dtype) for k, v in state.items()}
    loaded = {k: stored[k].to(v.dtype) for k, v in state.items()}
    with atomic_path(out / WEIGHTS_NAME, force=force) as tmp:
        save_file(stored, str(tmp), metadata={"format": FORMAT})
    write_config(out / CONFIG_NAME, config, model_fingerprint=fingerprint(loaded, config))
    atomic_write_bytes(out / "README.md", model_card(config).encode(), force=True)
    return out


def stored_as(tensor: Tensor, dtype: torch.dtype | None) -> Tensor:
    """``tensor`` in ``dtype`` if it is floating point (integer/bool buffers stay exact)."""
    if dtype is None or not tensor.is_floating_point():
        return tensor
    if not dtype.is_floating_point:
        raise ValueError(f"weights can only be stored in a floating-point dtype, got {dtype}")
    return tensor.to(dtype).contiguous()


def push_to_hub(
    model: nn.Module,
    config: CodecConfig,
    repo_id: str,
    info: CardInfo | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload codec model",
    revision: str | None = None,
) -> str:
    """Upload ``config.json`` + ``model.safetensors`` + a model card (with ``info``) to the Hub
    model repo ``repo_id`` (created if needed) in one commit; returns the commit's URL."""
    with tempfile.TemporaryDirectory(prefix="codec-push-") as tmp:
        folder = save_pretrained(model, config, Path(tmp) / "model")
        atomic_write_bytes(folder / "README.md", model_card(config, info).encode(), force=True)
        return upload_folder(folder, repo_id, commit_message, private, token, revision)


def resolve_folder(
    name_or_dir: str | os.PathLike[str],
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> Path:
    """The local folder of an export: ``name_or_dir`` itself when it exists, else, when it reads
    as a Hub id ``owner/name``, its snapshot at ``revision`` in the Hub cache (fetched unless
    ``local_files_only`` or ``HF_HUB_OFFLINE``)."""
    folder = Path(name_or_dir)
    if folder.exists() or not is_hub_id(str(name_or_dir)):
        return folder
    return fetch_files(
        str(name_or_dir), (CONFIG_NAME, WEIGHTS_NAME), revision, cache_dir, local_files_only
    )


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


@dataclass(frozen=True)
class CardInfo:
    """What a model card says beyond the config: licence (an SPDX-style id such as ``mit`` or
    ``cc-by-4.0``), Hub dataset ids, and free text on the training data."""

    license: str | None = None
    datasets: tuple[str, ...] = ()
    training_data: str | None = None


def card_metadata(cfg: CodecConfig, info: CardInfo | None = None) -> str:
    """The model card's YAML front matter (Hub metadata), ``---`` lines included."""
    info = info or CardInfo()
    q = cfg.quantizer
    fields: list[tuple[str, object]] = [("library_name", "codec")]
    if info.license:
        fields.append(("license", info.license))
    fields.append(("tags", ["audio", "audio-codec", "neural-audio-codec", "speech-tokenizer"]))
    if info.datasets:
        fields.append(("datasets", list(info.datasets)))
    fields += [
        ("sample_rate", cfg.sample_rate),
        ("frame_rate", cfg.frame_rate),
        ("bitrate_kbps", round(bitrate_kbps(cfg), 4)),
        ("num_codebooks", q.num_codebooks),
        ("groups", q.groups),
        ("levels_per_group", q.num_levels),
        ("codebook_size", q.codebook_size),
        ("causal", cfg.causal),
    ]
    lines = ["---"]
    for key, value in fields:
        if isinstance(value, list):  # JSON strings are valid YAML scalars
            lines += [f"{key}:"] + [f"- {json.dumps(v)}" for v in value]
        else:
            lines.append(f"{key}: {json.dumps(value)}")
    return "\n".join([*lines, "---", ""]) + "\n"


def bitrate_kbps(cfg: CodecConfig) -> float:
    """Bits per second / 1000 at all codebooks."""
    q = cfg.quantizer
    return cfg.frame_rate * q.num_codebooks * math.log2(q.codebook_size) / 1000


def model_card(cfg: CodecConfig, info: CardInfo | None = None) -> str:
    """A short README for an exported model, with Hub metadata."""
    info = info or CardInfo()
    q = cfg.quantizer
    text = (
        f"{card_metadata(cfg, info)}"
        f"# {cfg.model_id}\n\n"
        f"Neural audio codec exported by `codec`.\n\n"
        f"- sample rate: {cfg.sample_rate} Hz, frame rate: {cfg.frame_rate:g} frames/s "
        f"(hop {cfg.hop_length})\n"
        f"- quantizer: {q.layout_text} = {bitrate_kbps(cfg):g} kbps at all codebooks\n"
        f"- causal: {cfg.seanet.causal}\n"
        f"{encoder_line(cfg)}{decoder_line(cfg)}\n"
        "Load with `Codec.from_pretrained(path)` (a folder or a Hub id `owner/name`); weights "
        "are safetensors (no pickle).\n"
    )
    if info.training_data:
        text += f"\n## Training data\n{info.training_data}\n"
    if info.license:
        text += f"\n## Licence\n{info.license}\n"
    return text


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
