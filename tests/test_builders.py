"""Config -> objects."""

from __future__ import annotations

from codec.builders import quantizer_from_config
from codec.config import QuantizerConfig
from codec.quantize import CodebookConfig


def test_quantizer_from_config_passes_every_setting() -> None:
    codebook = CodebookConfig(decay=0.9, kmeans_init=False, threshold_dead=0.2)
    cfg = QuantizerConfig(
        groups=2, num_levels=3, codebook_size=16, codebook=codebook, dropout_rate=0.5
    )
    q = quantizer_from_config(8, cfg)
    assert (q.groups, q.num_levels, q.codebook_size, q.dim) == (2, 3, 16, 8)
    assert q.dropout_rate == 0.5
    assert all(cb.config == codebook for _, cb in q.named_codebooks(3))
    assert len(q.named_codebooks(3)) == 6
