"""Export a :class:`~codec.model.Codec` as a Hugging Face ``transformers`` ``EncodecModel``.

``transformers`` implements one family: a SEANet encoder/decoder with ELU activations,
weight-norm convolutions and an LSTM, and one residual VQ of Euclidean codebooks as wide as the
latent. Our SEANet keeps EnCodec's layer order, so the weights map by renaming (the inverse of
:mod:`codec.convert`): ``convtr.`` -> ``conv.``; codebook ``embedding`` / ``cluster_usage`` /
``embedding_sum`` / ``initialized`` -> ``embed`` / ``cluster_size`` / ``embed_avg`` / ``inited``.
Any other model is refused with the reason (:func:`unsupported_reason`). Writing needs neither
``transformers`` nor the network: the folder is JSON + safetensors.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import Tensor, nn

from codec.config import CodecConfig
from codec.fileio import atomic_dir

__all__ = [
    "encodec_config",
    "encodec_state_dict",
    "export_encodec",
    "target_bandwidths",
    "unsupported_reason",
]

_SEANET_KEY = re.compile(r"^(?P<part>encoder|decoder)\.layers\.(?P<index>\d+)\.(?P<rest>.+)$")
_CODEBOOK_KEY = re.compile(r"^quantizer\.rvqs\.0\.levels\.(?P<level>\d+)\.codebook\.(?P<name>\w+)$")
_CODEBOOK_NAMES = {
    "embedding": "embed",
    "cluster_usage": "cluster_size",
    "embedding_sum": "embed_avg",
    "initialized": "inited",
    "updates": None,  # a training counter transformers has no use for
}


def unsupported_reason(cfg: CodecConfig) -> str | None:
    """Why ``transformers.EncodecModel`` cannot represent ``cfg`` (``None`` when it can)."""
    s, q = cfg.seanet, cfg.quantizer
    checks = [
        (cfg.architecture == "seanet", f"its architecture is {cfg.architecture}, not seanet"),
        (cfg.encoder == "seanet", f"its encoder is {cfg.encoder}, not the SEANet one"),
        (cfg.decoder == "seanet", f"its decoder is {cfg.decoder}, not the SEANet one"),
        (s.activation == "elu", f"its activation is {s.activation}; EncodecModel has ELU"),
        (s.norm == "weight_norm", f"its convs have norm={s.norm}; EncodecModel uses weight_norm"),
        (s.lstm_layers > 0, "it has no LSTM; EncodecModel always has one"),
        (s.channels in (1, 2), f"it has {s.channels} audio channels; EncodecModel takes 1 or 2"),
        (s.causal or s.trim_right_ratio == 1.0, "trim_right_ratio != 1 needs a causal model"),
        (q.kind == "vq", f"its quantizer is {q.kind}; EncodecModel has learnt VQ codebooks"),
        (q.groups == 1, f"it has {q.groups} quantizer groups; EncodecModel has one residual VQ"),
        (q.codebook.codebook_dim is None, "its codebooks have a projection (codebook_dim)"),
        (not q.codebook.normalize, "its codebooks use cosine similarity (normalize)"),
        (not q.standardize, "it standardizes latents before quantizing"),
        (_power_of_two(q.codebook_size), f"codebook_size {q.codebook_size} is not a power of 2"),
        (
            cfg.sample_rate % s.hop_length == 0,
            f"its frame rate {cfg.frame_rate:g} is not an integer (EncodecModel rounds it up)",
        ),
    ]
    failed = [why for ok, why in checks if not ok]
    return "; ".join(failed) if failed else None


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def target_bandwidths(cfg: CodecConfig) -> list[float]:
    """kbps for 1, 2, 4, ... and all levels: EncodecModel's ``bandwidth`` choices.

    ``EncodecModel.encode(bandwidth=b)`` keeps ``floor(b * 1000 / bits_per_level)`` levels; each
    value is nudged up by float ulps until that floor gives its level count exactly.
    """
    q = cfg.quantizer
    per_level = math.log2(q.codebook_size) * (cfg.sample_rate // cfg.seanet.hop_length)
    counts = sorted({2**i for i in range(q.num_levels.bit_length()) if 2**i < q.num_levels})
    out = []
    for k in [*counts, q.num_levels]:
        kbps = k * per_level / 1000
        while min(math.floor(kbps * 1000 / per_level), int(1000 * kbps // per_level)) < k:
            kbps = math.nextafter(kbps, math.inf)
        out.append(kbps)
    return out


def encodec_config(cfg: CodecConfig) -> dict[str, Any]:
    """The ``config.json`` of the ``EncodecModel`` equivalent to ``cfg`` (``ValueError`` with
    the reason when there is none)."""
    reason = unsupported_reason(cfg)
    if reason:
        raise ValueError(f"transformers' EncodecModel cannot represent this model: {reason}")
    s, q = cfg.seanet, cfg.quantizer
    return {
        "architectures": ["EncodecModel"],
        "model_type": "encodec",
        "dtype": "float32",
        "target_bandwidths": target_bandwidths(cfg),
        "sampling_rate": cfg.sample_rate,
        "audio_channels": s.channels,
        "normalize": False,
        "chunk_length_s": None,
        "overlap": None,
        "hidden_size": s.dimension,
        "num_filters": s.n_filters,
        "num_residual_layers": s.n_residual_layers,
        "upsampling_ratios": list(s.ratios),
        "norm_type": "weight_norm",
        "kernel_size": s.kernel_size,
        "last_kernel_size": s.last_kernel_size,
        "residual_kernel_size": s.residual_kernel_size,
        "dilation_growth_rate": s.dilation_base,
        "use_causal_conv": s.causal,
        "pad_mode": s.pad_mode,
        "compress": s.compress,
        "num_lstm_layers": s.lstm_layers,
        "trim_right_ratio": s.trim_right_ratio,
        "codebook_size": q.codebook_size,
        "codebook_dim": s.dimension,
        "use_conv_shortcut": not s.true_skip,
    }


def feature_extractor_config(cfg: CodecConfig) -> dict[str, Any]:
    """``preprocessor_config.json``, so ``AutoProcessor`` / ``EncodecFeatureExtractor`` load."""
    return {
        "feature_extractor_type": "EncodecFeatureExtractor",
        "feature_size": cfg.seanet.channels,
        "sampling_rate": cfg.sample_rate,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": True,
        "chunk_length_s": None,
        "overlap": None,
    }


def encodec_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Our ``Codec`` state dict in ``EncodecModel``'s key names (float32, contiguous)."""
    out: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        new = _rename(key)
        if new is None:
            continue
        if new.endswith(".inited"):
            value = value.reshape(1)  # EncodecModel keeps it as a float [1]
        out[new] = value.detach().float().contiguous().cpu()
    return out


def _rename(key: str) -> str | None:
    match = _SEANET_KEY.match(key)
    if match:
        rest = re.sub(r"^convtr\.", "conv.", match["rest"])
        return f"{match['part']}.layers.{match['index']}.{rest}"
    match = _CODEBOOK_KEY.match(key)
    if match and match["name"] in _CODEBOOK_NAMES:
        name = _CODEBOOK_NAMES[match["name"]]
        return None if name is None else f"quantizer.layers.{match['level']}.codebook.{name}"
    raise ValueError(f"no EncodecModel weight for '{key}'")


def export_encodec(
    model: nn.Module, config: CodecConfig, out: str | os.PathLike[str], force: bool = False
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (+ ``preprocessor_config.json``) that
    ``transformers.EncodecModel.from_pretrained(out)`` loads; the folder appears whole or not
    at all, and an existing one is replaced only with ``force``."""
    target = Path(out)
    meta = encodec_config(config)  # refuse before touching anything
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not force:
        raise FileExistsError(f"{target} exists (use --force to replace it)")
    state = encodec_state_dict(model)
    with atomic_dir(target) as tmp:
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        extractor = json.dumps(feature_extractor_config(config), indent=2) + "\n"
        (tmp / "preprocessor_config.json").write_text(extractor)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    return target
