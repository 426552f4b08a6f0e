from __future__ import annotations

import pytest
import torch

from codec.builders import quantizer_from_config
from codec.config import PRESETS, QuantizerConfig
from codec.quantize import CodebookConfig, GroupedResidualVQ, QuantizerLayout, ResidualVQ
from tests.quantize.helpers import assert_straight_through
from tests.quantize.helpers import trained as trained_steps


def trained(groups: int = 2, levels: int = 3, dim: int = 8) -> GroupedResidualVQ:
    codebook = CodebookConfig(kmeans_iters=2)

    def make() -> GroupedResidualVQ:
        return GroupedResidualVQ(dim, groups, levels, codebook_size=8, codebook=codebook)

    return trained_steps(make, steps=2, batch=3, frames=16)


def test_straight_through_gradient_is_upstream_gradient() -> None:
    assert_straight_through(trained(), torch.randn(2, 8, 7))


def test_code_layout_is_group_major() -> None:
    q = trained(groups=2, levels=3)
    q.eval()
    x = torch.randn(2, 8, 5)
    codes = q.encode(x)
    assert codes.shape == (2, 6, 5)
    assert q.layout == QuantizerLayout(groups=2, num_levels=3, codebook_size=8)
    assert q.layout.num_codebooks == q.num_codebooks == 6
    # streams 0..2 are group 0's levels: they equal group 0's own RVQ codes on its channels
    assert torch.equal(codes[:, :3], q.rvqs[0].encode(x[:, :4]))
    assert torch.equal(codes[:, 3:], q.rvqs[1].encode(x[:, 4:]))


def test_groups_are_independent() -> None:
    q = trained()
    q.eval()
    x = torch.randn(2, 8, 5)
    y = x.clone()
    y[:, 4:] = torch.randn(2, 4, 5) * 3  # change only group 1's channels
    a, b = q.encode(x), q.encode(y)
    assert torch.equal(a[:, :3], b[:, :3])
    out_a, out_b = q.decode(a), q.decode(b)
    assert torch.equal(out_a[:, :4], out_b[:, :4])


def test_round_trip_and_truncation() -> None:
    q = trained()
    q.eval()
    x = torch.randn(2, 8, 11)
    out = q(x)
    assert torch.equal(q.decode(q.encode(x)), out.quantized)
    codes = q.encode(x, num_codebooks=4)  # 2 levels per group
    assert codes.shape == (2, 4, 11)
    full = q.encode(x)
    assert torch.equal(codes, full[:, [0, 1, 3, 4]])
    assert torch.equal(q.decode(codes), q(x, num_codebooks=4).quantized)
    with pytest.raises(ValueError, match="multiple of groups"):
        q.encode(x, num_codebooks=3)
    with pytest.raises(ValueError):
        q.decode(full[:, :3])
    with pytest.raises(ValueError):
        q.encode(x, num_codebooks=7)


def test_metrics_and_losses_cover_every_group_and_level() -> None:
    q = trained()
    out = q(torch.randn(2, 8, 9))
    names = {k.split("/")[-1] for k in out.metrics if k.startswith("vq/entropy/")}
    assert names == {f"g{g}l{i}" for g in range(2) for i in range(3)}
    assert out.loss.ndim == 0


def test_hificodec_config_is_expressible() -> None:
    cfg = PRESETS["hificodec_16k"].quantizer
    q = quantizer_from_config(512, cfg)
    assert q.layout.to_dict() == {"groups": 2, "levels": 2, "codebook_size": 1024}
    assert q.group_dim == 256 and q.num_codebooks == 4 and q.dim == 512
    assert isinstance(q.rvqs[0], ResidualVQ)


def test_config_fields_reach_the_modules() -> None:
    codebook = CodebookConfig(
        codebook_dim=4, normalize=True, ema=False, decay=0.9, threshold_dead=0.2, reset_every=3
    )
    cfg = QuantizerConfig(
        groups=1, num_levels=2, codebook_size=16, codebook=codebook, dropout_rate=0.25,
        dropout_per_sample=True,
    )  # fmt: skip
    q = quantizer_from_config(8, cfg)
    cb = q.rvqs[0].levels[1].codebook
    assert cb.dim == 4 and cb.config == codebook
    assert q.rvqs[0].project.enabled and not q.rvqs[0].levels[1].project.enabled
    assert (q.dropout_rate, q.dropout_per_sample) == (0.25, True)
    out = q(torch.randn(2, 8, 6))
    assert out.codes.shape == (2, 2, 6)


def test_layout_dict_round_trip_and_validation() -> None:
    layout = QuantizerLayout(groups=2, num_levels=4, codebook_size=1024)
    assert QuantizerLayout.from_dict(layout.to_dict()) == layout
    for bad in ({"groups": 2, "levels": 4}, {"groups": 0, "levels": 4, "codebook_size": 8},
                {"groups": "2", "levels": 4, "codebook_size": 8}):  # fmt: skip
        with pytest.raises(ValueError):
            QuantizerLayout.from_dict(bad)


def test_dim_must_split_into_groups() -> None:
    with pytest.raises(ValueError, match="divisible"):
        GroupedResidualVQ(10, groups=3)


def test_state_dict_round_trip() -> None:
    q = trained()
    fresh = GroupedResidualVQ(8, groups=2, num_levels=3, codebook_size=8)
    fresh.load_state_dict(q.state_dict())
    q.eval()
    fresh.eval()
    x = torch.randn(1, 8, 4)
    assert torch.equal(q.encode(x), fresh.encode(x))
    assert all(cb.is_initialized for _, cb in fresh.named_codebooks(3))
