import json
from dataclasses import replace

import pytest

from codec.config import PRESETS, CodecConfig, QuantizerConfig
from codec.quantize import CodebookConfig


def test_round_trip_dict() -> None:
    cfg = PRESETS["hificodec_16k"]
    assert CodecConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.frame_rate == 50.0
    assert cfg.quantizer.num_codebooks == 4


def test_unknown_key_is_named() -> None:
    data = CodecConfig().to_dict()
    data["quantizer"]["codebok_size"] = 3
    with pytest.raises(ValueError, match="codebok_size"):
        CodecConfig.from_dict(data)


def test_wrong_type_is_named() -> None:
    data = CodecConfig().to_dict()
    data["seanet"]["ratios"] = "8,5"
    with pytest.raises(ValueError, match="seanet.ratios"):
        CodecConfig.from_dict(data)


def test_legacy_flat_quantizer_keys_are_migrated() -> None:
    data = CodecConfig().to_dict()
    codebook = data["quantizer"].pop("codebook")
    legacy = {**data["quantizer"], **codebook, "decay": 0.95, "kmeans_init": False}
    legacy |= {"commitment_weight": 1.0, "codebook_weight": 1.0}
    cfg = CodecConfig.from_dict({**data, "quantizer": legacy})
    assert cfg.quantizer.codebook == CodebookConfig(decay=0.95, kmeans_init=False)
    assert cfg == replace(CodecConfig(), quantizer=cfg.quantizer)
    assert cfg.quantizer.num_levels == CodecConfig().quantizer.num_levels


def test_mixed_flat_and_nested_quantizer_keys_are_refused() -> None:
    data = CodecConfig().to_dict()
    data["quantizer"]["decay"] = 0.9
    with pytest.raises(ValueError, match="decay"):
        CodecConfig.from_dict(data)


def test_codebook_settings_are_checked_when_loaded() -> None:
    data = CodecConfig().to_dict()
    data["quantizer"]["codebook"]["codebook_dim"] = 0
    with pytest.raises(ValueError, match="codebook_dim"):
        CodecConfig.from_dict(data)


def test_config_without_architecture_loads_as_seanet() -> None:
    """config.json files written before the architecture choice have no such keys."""
    old = CodecConfig().to_dict()
    del old["architecture"], old["hifigan"]
    cfg = CodecConfig.from_dict(old)
    assert cfg.architecture == "seanet" and cfg == CodecConfig()
    assert cfg.hop_length == cfg.seanet.hop_length and cfg.latent_dim == cfg.seanet.dimension


def test_hifigan_architecture_round_trips_and_drives_the_hop() -> None:
    data = CodecConfig(sample_rate=16000).to_dict()
    data |= {"architecture": "hifigan", "hifigan": {"ratios": [4, 4], "kernel_sizes": [8, 8]}}
    data["seanet"]["causal"] = False
    cfg = CodecConfig.from_dict(data)
    assert cfg.hop_length == 16 and cfg.latent_dim == 512 and not cfg.causal
    assert CodecConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": "hifi"}, "'architecture' must be one of seanet, hifigan"),
        ({"architecture": "hifigan", "seanet": {"causal": True}}, "seanet.causal"),
        ({"hifigan": {"kernel_sizes": [16, 11, 8]}}, "one entry per hifigan.ratios"),
        ({"hifigan": {"kernel_sizes": [16, 10, 8, 4]}}, "must be even"),
        ({"hifigan": {"resblock": "3"}}, "hifigan.resblock"),
        ({"hifigan": {"decoder_filters": 40}}, "divisible by 16"),
        ({"hifigan": {"norm_group_size": 48}}, "norm_group_size"),
    ],
)
def test_bad_hifigan_settings_are_one_clear_line(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CodecConfig.from_dict(change)


def test_quantizer_kind_defaults_to_vq_for_old_configs() -> None:
    data = PRESETS["hificodec_16k"].to_dict()
    del data["quantizer"]["kind"], data["quantizer"]["fsq_levels"]
    cfg = CodecConfig.from_dict(data)
    assert cfg.quantizer.kind == "vq" and cfg.quantizer.fsq_levels == ()
    assert cfg == PRESETS["hificodec_16k"]


def test_fsq_levels_round_trip_through_json() -> None:
    quantizer = QuantizerConfig(groups=2, num_levels=2, codebook_size=1000, kind="fsq",
                                fsq_levels=(8, 5, 5, 5))  # fmt: skip
    cfg = replace(CodecConfig(), quantizer=quantizer)
    back = CodecConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.quantizer.fsq_levels == (8, 5, 5, 5)
    assert "fsq 8x5x5x5" in back.quantizer.layout_text
    assert "(simvq)" in replace(quantizer, kind="simvq", fsq_levels=()).layout_text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "lfq"}, "quantizer.kind"),
        ({"kind": "fsq"}, "quantizer.fsq_levels"),
        ({"kind": "fsq", "fsq_levels": (8, 1), "codebook_size": 8}, "quantizer.fsq_levels"),
        ({"kind": "fsq", "fsq_levels": (8, 5, 5, 5)}, "product of quantizer.fsq_levels"),
        ({"kind": "vq", "fsq_levels": (8, 5)}, "only used with kind=fsq"),
        ({"kind": "simvq", "fsq_levels": (8, 5)}, "only used with kind=fsq"),
    ],
)
def test_bad_quantizer_kind_settings_are_one_clear_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuantizerConfig(**kwargs)
    data = CodecConfig().to_dict()
    data["quantizer"].update({k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    with pytest.raises(ValueError, match=message):
        CodecConfig.from_dict(data)
