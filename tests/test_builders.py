"""Config -> objects."""

from __future__ import annotations

from codec.builders import quantizer_from_config
from codec.config import QuantizerConfig
from codec.quantize import (
    CodebookConfig,
    EMACodebook,
    GroupedResidualFSQ,
    GroupedResidualVQ,
    SimVQCodebook,
)


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


def test_quantizer_kind_picks_the_class() -> None:
    codebook = CodebookConfig(decay=0.9, threshold_dead=0.2)
    vq = quantizer_from_config(8, QuantizerConfig(groups=2, num_levels=2, codebook_size=16))
    assert isinstance(vq, GroupedResidualVQ)
    assert all(type(cb) is EMACodebook for _, cb in vq.named_codebooks(2))
    cfg = QuantizerConfig(groups=2, num_levels=3, codebook_size=16, kind="simvq")
    simvq = quantizer_from_config(8, cfg)
    assert isinstance(simvq, GroupedResidualVQ) and simvq.num_codebooks == 6
    assert all(isinstance(cb, SimVQCodebook) for _, cb in simvq.named_codebooks(3))
    cfg = QuantizerConfig(
        groups=2, num_levels=3, codebook_size=40, kind="fsq", fsq_levels=(8, 5),
        codebook=codebook, dropout_rate=0.5, dropout_per_sample=True,
    )  # fmt: skip
    fsq = quantizer_from_config(8, cfg)
    assert isinstance(fsq, GroupedResidualFSQ)
    assert (fsq.groups, fsq.num_levels, fsq.codebook_size, fsq.fsq_levels) == (2, 3, 40, (8, 5))
    assert (fsq.dropout_rate, fsq.dropout_per_sample) == (0.5, True)
    assert all(cb.config.decay == 0.9 for _, cb in fsq.named_codebooks(3))
    assert all(cb.config.threshold_dead == 0.2 for _, cb in fsq.named_codebooks(3))
