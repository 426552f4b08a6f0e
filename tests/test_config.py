from dataclasses import replace

import pytest

from codec.config import PRESETS, CodecConfig
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
