"""Import released EnCodec 24 kHz weights into a :class:`~codec.model.Codec`.

Two source formats are understood, both for the causal 24 kHz model:

- ``"encodec"``: the official ``encodec`` package (``encodec_24khz-d7cc33bc.th``, a plain state
  dict: ``encoder.model.{i}.conv.conv.weight_g``, ``quantizer.vq.layers.{n}._codebook.embed``).
- ``"transformers"``: Hugging Face ``EncodecModel`` (``facebook/encodec_24khz``:
  ``encoder.layers.{i}.conv.weight_g`` or ``...parametrizations.weight.original0``,
  ``quantizer.layers.{n}.codebook.embed``; transposed convs are ``.conv`` too).

Our encoder/decoder ``layers`` mirror EnCodec's layer order, so the weights map by renaming.
Codebooks: ``embed`` -> ``embedding``, ``cluster_size`` -> ``cluster_usage``, ``inited`` ->
``initialized``; ``embedding_sum`` is rebuilt as ``embed * smoothed usage`` so the derived
centroid equals ``embed`` exactly (EnCodec's dead-code reset wrote ``embed`` without its
statistics, so its own ``embed_avg`` can disagree with ``embed``).

``Codec.from_pretrained("encodec_24khz", path=...)`` reads a local file or Hugging Face directory
(``torch.load(weights_only=True)`` or safetensors, no pickled code), or the Hub repo
``facebook/encodec_24khz`` through the Hub cache (:func:`download_encodec_24khz`; ``path`` is then
the repo id). ``codec convert SRC DST`` writes our ``save_pretrained`` format.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from codec.config import PRESETS, CodecConfig
from codec.hub import fetch_files, is_hub_id
from codec.nn.conv import StreamingConvTranspose1d
from codec.quantize.functional import laplace_smoothing
from codec.seanet.decoder import SEANetDecoder

__all__ = [
    "HF_REPO",
    "Source",
    "CONVERT_HINT",
    "convert_encodec_state_dict",
    "converted_weights",
    "detect_format",
    "download_encodec_24khz",
    "load_checkpoint",
]

Source = Literal["encodec", "transformers"]

#: the Hub repo of the released causal 24 kHz EnCodec (transformers format, safetensors)
HF_REPO = "facebook/encodec_24khz"
#: its files that the conversion reads
HF_FILES = ("config.json", "model.safetensors")

_WEIGHTS_HELP = (
    "pass the EnCodec 24 kHz weights: the Hugging Face Hub repo id "
    f"{HF_REPO!r} (fetched into the Hub cache; or codec.convert.download_encodec_24khz()), a "
    "local snapshot of it (a directory with model.safetensors), or the encodec package's "
    "encodec_24khz-d7cc33bc.th; e.g. Codec.from_pretrained('encodec_24khz', "
    f"path={HF_REPO!r})"
)

_CODEBOOK_NAMES = {
    "embed": "embedding",
    "cluster_size": "cluster_usage",
    "inited": "initialized",
    "embed_avg": None,  # rebuilt from embed and cluster_size
}


# ------------------------------------------------------------------------------ state dicts
def detect_format(state: dict[str, Tensor]) -> Source:
    """Which EnCodec format ``state`` is in (``ValueError`` if neither)."""
    if any(k.startswith(("encoder.model.", "quantizer.vq.layers.")) for k in state):
        return "encodec"
    if any(k.startswith(("encoder.layers.", "quantizer.layers.")) for k in state):
        if any(".rvqs." in k for k in state):
            raise ValueError("this state dict is already in codec's own format")
        return "transformers"
    sample = ", ".join(sorted(state)[:3])
    raise ValueError(
        "not an EnCodec state dict: expected keys like 'encoder.model.0.conv.conv.weight_g' "
        f"(encodec package) or 'encoder.layers.0.conv.weight_g' (transformers); got {sample}"
    )


def convert_encodec_state_dict(
    state: dict[str, Tensor],
    source: Source | None = None,
    config: CodecConfig | None = None,
) -> dict[str, Tensor]:
    """EnCodec weights (``source`` format, detected when ``None``) -> our ``Codec`` state dict.

    ``config`` is the target (default: the ``encodec_24khz`` preset); it is used to find the
    decoder's transposed convolutions and the codebooks' smoothing ``epsilon``. Keys that do
    not belong to the codec (e.g. a language model) raise ``ValueError``.
    """
    config = config or PRESETS["encodec_24khz"]
    source = source or detect_format(state)
    if source not in ("encodec", "transformers"):
        raise ValueError(f"source must be 'encodec' or 'transformers', got {source!r}")
    rename = _rename_encodec if source == "encodec" else _transformers_renamer(config)
    out: dict[str, Tensor] = {}
    codebooks: dict[str, dict[str, Tensor]] = {}
    unknown: list[str] = []
    for key, value in state.items():
        match = _CODEBOOK_KEY[source].match(key)
        if match:
            codebooks.setdefault(match["level"], {})[match["name"]] = value
            continue
        new = rename(key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise ValueError(f"unexpected keys in the {source} state dict: {unknown[:5]}")
    for level, buffers in codebooks.items():
        out.update(_convert_codebook(level, buffers, config.quantizer.codebook.epsilon))
    return out


_CODEBOOK_KEY = {
    "encodec": re.compile(r"^quantizer\.vq\.layers\.(?P<level>\d+)\._codebook\.(?P<name>\w+)$"),
    "transformers": re.compile(r"^quantizer\.layers\.(?P<level>\d+)\.codebook\.(?P<name>\w+)$"),
}
_SEANET_KEY = re.compile(
    r"^(?P<part>encoder|decoder)\.(?:model|layers)\.(?P<index>\d+)\.(?P<rest>.+)$"
)


def _weight_norm(rest: str) -> str:
    """Old-style weight norm names -> torch parametrization names."""
    rest = re.sub(r"(^|\.)weight_g$", r"\1parametrizations.weight.original0", rest)
    return re.sub(r"(^|\.)weight_v$", r"\1parametrizations.weight.original1", rest)


def _rename_encodec(key: str) -> str | None:
    match = _SEANET_KEY.match(key)
    if match is None or key.split(".")[1] != "model":
        return None
    rest = match["rest"].replace("conv.conv.", "conv.").replace("convtr.convtr.", "convtr.")
    return f"{match['part']}.layers.{match['index']}.{_weight_norm(rest)}"


def _transformers_renamer(config: CodecConfig) -> Callable[[str], str | None]:

    decoder = SEANetDecoder(config.seanet)
    transposed = {
        str(i) for i, m in enumerate(decoder.layers) if isinstance(m, StreamingConvTranspose1d)
    }

    def rename(key: str) -> str | None:
        match = _SEANET_KEY.match(key)
        if match is None or key.split(".")[1] != "layers":
            return None
        rest = match["rest"]
        if match["part"] == "decoder" and match["index"] in transposed:
            rest = re.sub(r"^conv\.", "convtr.", rest)
        return f"{match['part']}.layers.{match['index']}.{_weight_norm(rest)}"

    return rename


def _convert_codebook(level: str, buffers: dict[str, Tensor], epsilon: float) -> dict[str, Tensor]:
    unknown = sorted(set(buffers) - set(_CODEBOOK_NAMES))
    missing = sorted({"embed", "cluster_size"} - set(buffers))
    if unknown or missing:
        raise ValueError(
            f"codebook {level}: unexpected buffers {unknown}, missing {missing} "
            f"(expected {sorted(_CODEBOOK_NAMES)})"
        )
    embed = buffers["embed"].float()
    usage = buffers["cluster_size"].float()
    inited = bool(buffers["inited"].flatten()[0]) if "inited" in buffers else True
    smoothed = laplace_smoothing(usage, epsilon)
    prefix = f"quantizer.rvqs.0.levels.{level}.codebook."
    return {
        prefix + "embedding": embed.clone(),
        prefix + "embedding_sum": embed * smoothed.unsqueeze(1),
        prefix + "cluster_usage": usage.clone(),
        prefix + "initialized": torch.tensor(inited),
        prefix + "updates": torch.zeros((), dtype=torch.long),
    }


# ------------------------------------------------------------------------------ files
def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a state dict from ``.th`` / ``.pt`` / ``.bin`` (``torch.load(weights_only=True)``),
    ``.safetensors``, a Hugging Face directory (``model.safetensors`` / ``pytorch_model.bin``),
    or a Hub repo id ``owner/name`` that is not a local path (fetched into the Hub cache).
    """
    p = Path(path)
    if not p.exists() and is_hub_id(str(path)):
        p = fetch_files(str(path), HF_FILES)
    if p.is_dir():
        _check_hf_config(p / "config.json")
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (p / name).exists():
                return load_checkpoint(p / name)
        raise ValueError(f"{p}: no model.safetensors or pytorch_model.bin in this directory")
    if not p.exists():
        raise ValueError(f"EnCodec checkpoint not found: {p}; {_WEIGHTS_HELP}")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt files raise many different error types
        raise ValueError(f"cannot read checkpoint {p}: {exc}") from None
    return _unwrap(state, p)


def _unwrap(state: object, path: Path) -> dict[str, Tensor]:
    """A plain ``{name: tensor}`` dict, looking inside common wrappers (``state_dict``, ...)."""
    for _ in range(2):
        if isinstance(state, dict) and not any(isinstance(v, Tensor) for v in state.values()):
            inner = [state[k] for k in ("best_state", "state_dict", "model") if k in state]
            if inner:
                state = inner[0]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return dict(state)


def _check_hf_config(path: Path) -> None:
    if not path.exists():
        return
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return
    if not isinstance(cfg, dict):
        return
    if cfg.get("format") == "codec-pretrained":
        raise ValueError(f"{path.parent} is already converted: use Codec.from_pretrained(dir)")
    if cfg.get("model_type") not in (None, "encodec") or cfg.get("sampling_rate", 24000) != 24000:
        raise ValueError(
            f"{path.parent} is not the EnCodec 24 kHz model (model_type="
            f"{cfg.get('model_type')!r}, sampling_rate={cfg.get('sampling_rate')!r})"
        )


CONVERT_HINT = "; is this the causal 24 kHz EnCodec (not the 48 kHz stereo model)?"
"""Appended to weight-mismatch errors of converted checkpoints."""


def converted_weights(
    name: str, path: str | os.PathLike[str] | None
) -> tuple[CodecConfig, dict[str, Tensor]]:
    """Preset ``name``'s config and the released weights at ``path`` in our key names."""
    if name != "encodec_24khz":
        raise ValueError(
            f"no released weights can be converted for preset {name!r}; only 'encodec_24khz' "
            "(other presets are trained with this package and loaded from their export directory)"
        )
    if path is None:
        raise ValueError(
            f"Codec.from_pretrained('encodec_24khz') needs local weights: {_WEIGHTS_HELP}"
        )
    config = PRESETS[name]
    return config, convert_encodec_state_dict(load_checkpoint(path), config=config)


def download_encodec_24khz(
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> Path:
    """Fetch the released EnCodec 24 kHz weights (:data:`HF_REPO`, ``config.json`` +
    ``model.safetensors``) into the Hugging Face cache; returns the snapshot folder, which
    ``Codec.from_pretrained("encodec_24khz", path=folder)`` converts.

    The Hub checks the files' hashes; ``local_files_only`` (or ``HF_HUB_OFFLINE=1``) reads the
    cache only. Nothing calls this implicitly.
    """
    return fetch_files(HF_REPO, HF_FILES, revision, cache_dir, local_files_only)
