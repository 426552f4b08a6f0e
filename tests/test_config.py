import pytest

from codec.config import PRESETS, CodecConfig


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
