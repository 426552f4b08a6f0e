"""Load a :class:`~codec.model.Codec` from whatever a user points at.

Accepted specs (the ``--model`` argument of the command line):

- an exported directory (``save_pretrained``: ``config.json`` + ``model.safetensors``);
- a run folder holding ``export/`` or ``checkpoints/last.ckpt``;
- a training checkpoint ``runs/x/checkpoints/*.ckpt``: the weights are read with
  ``torch.load(weights_only=True)`` (no pickle code runs) and the config is the run's
  ``config.json`` two levels up (written by ``train.py`` in the export format; runs made before
  it existed are read from their ``config.yaml``, which needs PyYAML);
- ``PRESET:PATH`` for a converted checkpoint, e.g. ``encodec_24khz:/path/encodec_24khz.th``;
- the name of a model shipped in the package (``codec/bundled/``), e.g. the default
  ``speech-16k-6kbps``; a local path of the same name wins;
- a Hugging Face Hub repo id ``owner/name`` (``owner/name@revision`` for a branch, tag or
  commit), fetched into the Hub cache (only the cache is read under ``HF_HUB_OFFLINE=1``); a
  local path of the same name wins. ``PRESET:owner/name`` converts a Hub repo's EnCodec weights.

Every failure is a :class:`ValueError` with a one-line message.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from codec.bundled import bundled_models, bundled_path
from codec.config import PRESETS, CodecConfig
from codec.errors import install_hint, one_line
from codec.hub import is_hub_id
from codec.model import Codec
from codec.pretrained import CONFIG_NAME, WEIGHTS_NAME, check_state_dict, read_config

__all__ = [
    "convert_to_pretrained",
    "load_checkpoint",
    "load_converted",
    "load_model",
    "resolve_device",
]

_EMA_PREFIX = "weight_ema.module."
_CODEC_PREFIX = "codec."


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else as torch understands it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"bad device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def load_model(spec: str | os.PathLike[str], device: str = "cpu") -> Codec:
    """Load a codec from ``spec`` (see the module docstring), in eval mode on ``device``."""
    model = _load(str(spec))
    return model.to(resolve_device(device)).eval()


def _load(spec: str) -> Codec:
    name, sep, rest = spec.partition(":")
    if sep and name in PRESETS and not Path(spec).exists():
        if not rest:
            raise ValueError(f"{name}: give the checkpoint path as {name}:PATH")
        if not Path(rest).exists() and not is_hub_id(rest):
            raise ValueError(f"{rest}: no such checkpoint for preset {name}")
        return Codec.from_pretrained(name, path=rest)
    path = Path(spec)
    if not path.exists():
        shipped = bundled_path(spec)
        if shipped is not None:
            return Codec.from_pretrained(shipped)
        repo, _, revision = spec.partition("@")
        if is_hub_id(repo):
            return Codec.from_pretrained(repo, revision=revision or None)
        known = [f"{p}:PATH" for p in PRESETS] + bundled_models()
        raise ValueError(
            f"{spec}: no such model (a directory, a .ckpt, a Hub id owner/name or one of "
            f"{', '.join(known)})"
        )
    if path.is_dir():
        return _load_dir(path)
    if path.suffix == ".ckpt":
        return load_checkpoint(path)
    if path.name == CONFIG_NAME or path.suffix == ".safetensors":
        return Codec.from_pretrained(path.parent)
    raise ValueError(f"{spec}: not a model (expected a directory or a .ckpt file)")


def _load_dir(path: Path) -> Codec:
    # A run folder has a config.json too (train.py writes it): an export also has weights.
    if (path / CONFIG_NAME).exists() and (path / WEIGHTS_NAME).exists():
        return Codec.from_pretrained(path)
    if (path / "export" / CONFIG_NAME).exists():
        return Codec.from_pretrained(path / "export")
    if (path / "checkpoints" / "last.ckpt").exists():
        return load_checkpoint(path / "checkpoints" / "last.ckpt")
    raise ValueError(
        f"{path}: no {CONFIG_NAME} + {WEIGHTS_NAME}, export/ or checkpoints/last.ckpt in this folder"
    )


def load_checkpoint(path: Path) -> Codec:
    """A Lightning training checkpoint -> Codec (weight-EMA copy when the run kept one)."""
    _check_checkpoint_file(path)
    config = _run_config(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's text advises weights_only=False: never do that
        raise ValueError(
            f"{path}: not a plain training checkpoint (it holds objects other than tensors and "
            "plain data, and unpickling them could run code)"
        ) from None
    except Exception:  # torch raises several types for corrupt / foreign files
        raise ValueError(f"{path}: not a checkpoint (unreadable or corrupt torch file)") from None
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a training checkpoint (no state_dict)")
    prefix = _EMA_PREFIX if any(k.startswith(_EMA_PREFIX) for k in state) else _CODEC_PREFIX
    weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    weights.pop("n_averaged", None)
    model = Codec(config)
    check_state_dict(model.state_dict(), weights, str(path))
    model.load_state_dict(weights)
    return model.eval()


def _check_checkpoint_file(path: Path) -> None:
    """A ``ValueError`` saying what ``path`` is unless it starts like a torch checkpoint: a zip
    archive (torch >= 1.6) or a pickle (older torch)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read checkpoint ({one_line(exc, path)})") from None
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return
    if not head:
        kind = "an empty file"
    elif all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        kind = "a text file"
    else:
        kind = "not a torch zip archive"
    raise ValueError(f"{path}: not a checkpoint ({kind}); a .ckpt is a training checkpoint")


def _run_config(ckpt: Path) -> CodecConfig:
    run_dir = ckpt.resolve().parent.parent
    if (run_dir / CONFIG_NAME).exists():
        return read_config(run_dir / CONFIG_NAME)
    config_path = run_dir / "config.yaml"
    if not config_path.exists():
        raise ValueError(
            f"{ckpt}: cannot rebuild the model config, {run_dir / CONFIG_NAME} not found "
            "(expected runs/NAME/checkpoints/FILE.ckpt beside runs/NAME/config.json)"
        )
    return _legacy_run_config(config_path)


def _legacy_run_config(config_path: Path) -> CodecConfig:
    """Runs made before ``config.json``: the model part of the resolved Hydra ``config.yaml``
    (``model`` = sample rate, model id, SEANet; ``quantizer`` beside it)."""
    try:
        import yaml
    except ImportError:
        raise ValueError(
            f"reading an old training run's config.yaml needs PyYAML: {install_hint('train')}"
        ) from None
    try:
        raw: Any = yaml.safe_load(config_path.read_text())
        model = dict(raw["model"])
        if "quantizer" not in model:
            model["quantizer"] = raw["quantizer"]
        return CodecConfig.from_dict(model)
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{config_path}: bad run config ({type(exc).__name__}: {exc})") from None


def load_converted(name: str, path: str | os.PathLike[str] | None) -> Codec:
    """Preset ``name`` with released weights converted from ``path`` (eval mode)."""
    return Codec.from_pretrained(name, path=None if path is None else str(path))


def convert_to_pretrained(
    src: str | os.PathLike[str],
    dst_dir: str | os.PathLike[str],
    name: str = "encodec_24khz",
    force: bool = False,
) -> Path:
    """Convert the checkpoint ``src`` and write ``config.json`` + ``model.safetensors`` to
    ``dst_dir`` (loadable with ``Codec.from_pretrained(dst_dir)``)."""
    return load_converted(name, src).save_pretrained(dst_dir, force=force)
