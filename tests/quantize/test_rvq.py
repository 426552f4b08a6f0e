from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from codec.quantize import CodebookConfig, QuantizerOutput, ResidualVQ
from codec.quantize import functional as Fq
from tests.quantize.helpers import assert_close, assert_straight_through, trained


def trained_rvq(levels: int = 4, dropout_rate: float = 0.0, **codebook: Any) -> ResidualVQ:
    cfg = CodebookConfig(kmeans_iters=3, **codebook)

    def make() -> ResidualVQ:
        return ResidualVQ(8, levels, codebook_size=16, codebook=cfg, dropout_rate=dropout_rate)

    return trained(make, steps=3, batch=4, frames=32)


def test_straight_through_gradient_is_upstream_gradient() -> None:
    assert_straight_through(trained_rvq(), torch.randn(2, 8, 10))


def test_commitment_loss_pulls_input_towards_codes() -> None:
    q = trained_rvq()
    x = torch.randn(2, 8, 10, requires_grad=True)
    out = q(x)
    assert isinstance(out, QuantizerOutput) and out.loss.ndim == 0
    out.loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert set(out.losses) == {"vq/commit"}


def test_residual_error_non_increasing_with_levels() -> None:
    q = trained_rvq(levels=6)
    q.eval()
    x = torch.randn(3, 8, 40)
    errors = [
        (q.decode(q.encode(x, num_codebooks=k)) - x).pow(2).mean().item() for k in range(1, 7)
    ]
    assert all(b <= a + 1e-6 for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.7 * errors[0]


def test_decode_of_encode_equals_quantized_in_eval() -> None:
    q = trained_rvq()
    q.eval()
    x = torch.randn(2, 8, 17)
    out = q(x)
    codes = q.encode(x)
    assert codes.shape == (2, 4, 17) and codes.dtype == torch.int64
    assert torch.equal(codes, out.codes)
    assert torch.equal(q.decode(codes), out.quantized)


def test_truncation_to_k_levels() -> None:
    q = trained_rvq()
    q.eval()
    x = torch.randn(2, 8, 9)
    full = q.encode(x)
    for k in (1, 2, 3):
        codes = q.encode(x, num_codebooks=k)
        assert torch.equal(codes, full[:, :k])
        out = q(x, num_codebooks=k)
        assert torch.equal(out.codes, codes)
        assert torch.equal(q.decode(codes), out.quantized)
        assert len([m for m in out.metrics if m.startswith("vq/usage/")]) == k


def test_kmeans_init_levels_in_order_and_beats_random() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 8, 64)
    q = ResidualVQ(8, num_levels=3, codebook_size=16, codebook=CodebookConfig(kmeans_iters=5))
    rand = ResidualVQ(8, 3, codebook_size=16, codebook=CodebookConfig(kmeans_init=False))
    order: list[int] = []
    for i, level in enumerate(q.levels):
        orig = level.codebook.init_from_data

        def record(data: torch.Tensor, i: int = i, orig=orig) -> None:  # type: ignore[no-untyped-def]
            assert all(q.levels[j].codebook.is_initialized for j in range(i))
            order.append(i)
            orig(data)

        level.codebook.init_from_data = record  # type: ignore[method-assign]
    q.train()
    q(x)
    assert order == [0, 1, 2]
    assert all(bool(level.codebook.initialized) for level in q.levels)
    q.eval()
    rand.eval()
    err_k = (q.decode(q.encode(x)) - x).pow(2).mean()
    err_r = (rand.decode(rand.encode(x)) - x).pow(2).mean()
    assert err_k < 0.8 * err_r
    # level 1 was fitted to the residual of the initialised level 0
    flat = x.transpose(1, 2).reshape(-1, 8)
    cb0, cb1 = q.levels[0].codebook, q.levels[1].codebook
    residual = flat - cb0.lookup(cb0.nearest(flat))
    fit = Fq.squared_distances(residual, cb1.embedding).min(1).values.mean()
    assert fit < 0.8 * residual.pow(2).sum(1).mean()


def test_quantizer_dropout_per_batch_and_per_sample() -> None:
    q = trained_rvq(levels=4, dropout_rate=1.0)
    x = torch.randn(6, 8, 5)
    seen = set()
    for _ in range(8):
        before = copy.deepcopy(q).eval()  # forward updates the codebooks after quantizing
        out = q(x)
        assert out.codes.shape == (6, 4, 5)  # codes for every level, always
        assert q.last_dropout_levels is not None
        n = int(q.last_dropout_levels[0])
        assert (q.last_dropout_levels == n).all()
        seen.add(n)
        assert torch.equal(out.quantized, before.decode(out.codes[:, :n]))
    assert len(seen) > 1
    q.dropout_per_sample = True
    before = copy.deepcopy(q).eval()
    out = q(x)
    levels = q.last_dropout_levels
    assert levels is not None and levels.shape == (6,) and len(set(levels.tolist())) > 1
    for b in range(6):
        ref = before.decode(out.codes[b : b + 1, : int(levels[b])])
        assert torch.equal(out.quantized[b : b + 1], ref)


def test_dropout_draws_follow_the_update_counter() -> None:
    a, b = trained_rvq(dropout_rate=0.5), trained_rvq(dropout_rate=0.5)
    x1, x2 = torch.randn(8, 8, 4), torch.randn(8, 8, 4)
    a.dropout_per_sample = b.dropout_per_sample = True
    for _ in range(4):
        a(x1)
        b(x2)  # different data, same step: same draws (what keeps DDP ranks in step)
        assert a.last_dropout_levels is not None and b.last_dropout_levels is not None
        assert torch.equal(a.last_dropout_levels, b.last_dropout_levels)


def test_metrics_per_level_are_detached_scalars() -> None:
    q = trained_rvq(levels=2)
    out = q(torch.randn(2, 8, 16))
    for kind in ("usage", "entropy", "perplexity", "dead", "resets"):
        for lvl in range(2):
            v = out.metrics[f"vq/{kind}/g0l{lvl}"]
            assert v.ndim == 0 and not v.requires_grad
    assert 0 < out.metrics["vq/usage/g0l0"].item() <= 1


def test_masked_frames_do_not_enter_statistics_or_metrics() -> None:
    a, b = trained_rvq(threshold_dead=0.0), trained_rvq(threshold_dead=0.0)
    x = torch.randn(2, 8, 12)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 5:] = False
    padded = x.clone()
    padded[1, :, 5:] = 30.0
    out_a = a(padded, mask=mask)
    # the unpadded batch, as one sequence of the 17 valid frames
    valid = torch.cat([x[0], x[1, :, :5]], dim=1).unsqueeze(0)
    out_b = b(valid)
    for la, lb in zip(a.levels, b.levels):
        assert_close(la.codebook.cluster_usage, lb.codebook.cluster_usage)
        assert_close(la.codebook.embedding_sum, lb.codebook.embedding_sum, atol=1e-5)
    for key in out_b.metrics:
        assert_close(out_a.metrics[key], out_b.metrics[key], atol=1e-5)
    assert_close(out_a.losses["vq/commit"], out_b.losses["vq/commit"], atol=1e-6)


def test_gradient_codebook_mode_has_codebook_loss() -> None:
    q = trained_rvq(ema=False)
    x = torch.randn(2, 8, 10)
    out = q(x)
    assert set(out.losses) == {"vq/commit", "vq/codebook"}
    # unweighted terms, plainly summed: training weights are the trainer's
    assert_close(out.loss, out.losses["vq/commit"] + out.losses["vq/codebook"])
    out.loss.backward()
    grads = [lvl.codebook.embedding.grad for lvl in q.levels]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_state_dict_round_trip_skips_kmeans() -> None:
    q = trained_rvq()
    fresh = ResidualVQ(8, num_levels=4, codebook_size=16, codebook=CodebookConfig(kmeans_iters=3))
    fresh.load_state_dict(q.state_dict())

    def boom(data: torch.Tensor) -> None:
        raise AssertionError("k-means re-ran after load")

    for level in fresh.levels:
        level.codebook.init_from_data = boom  # type: ignore[method-assign]
    x = torch.randn(2, 8, 6)
    q.eval()
    fresh.eval()
    assert torch.equal(q.encode(x), fresh.encode(x))
    fresh.train()
    fresh(x)


@pytest.mark.parametrize(
    "bad",
    [
        torch.randn(2, 7, 5),
        torch.randn(8, 5),
        torch.randint(0, 3, (2, 8, 5)),
        torch.full((1, 8, 3), float("nan")),
        torch.full((1, 8, 3), float("inf")),
    ],
)
def test_bad_input_raises_value_error(bad: torch.Tensor) -> None:
    q = ResidualVQ(8, 2, codebook_size=4, codebook=CodebookConfig(kmeans_init=False))
    with pytest.raises(ValueError):
        q(bad)
    with pytest.raises(ValueError):
        q.encode(bad)


def test_bad_codes_mask_and_num_codebooks_raise_value_error() -> None:
    q = ResidualVQ(8, 2, codebook_size=4, codebook=CodebookConfig(kmeans_init=False))
    x = torch.randn(1, 8, 3)
    for codes in (
        torch.full((1, 2, 3), 4),
        torch.full((1, 2, 3), -1),
        torch.zeros(1, 3, 3, dtype=torch.long),
        torch.zeros(2, 3, dtype=torch.long),
        torch.zeros(1, 2, 3),
    ):
        with pytest.raises(ValueError):
            q.decode(codes)
    for n in (0, 3, 1.5, True):
        with pytest.raises(ValueError, match="num_codebooks"):
            q.encode(x, num_codebooks=n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask"):
        q(x, mask=torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        q(x, mask=torch.ones(1, 3))
