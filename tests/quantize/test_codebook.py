from __future__ import annotations

import pytest
import torch

from codec.quantize import CodebookConfig, EMACodebook
from codec.quantize import functional as Fq
from codec.quantize.distributed import World, begin_step, finish_step
from tests.quantize.helpers import assert_close


def step(cb: EMACodebook, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """One training update of a lone codebook on x [N, D]; returns the number of resets."""
    flat = begin_step([cb], World(), x.device, training=True)
    assert cb.pending is not None
    codes = cb.nearest(x)
    cb.accumulate(x, codes, weights)
    return finish_step([cb], flat, World())[0]


def mixture(centres: torch.Tensor, n_per: int, std: float) -> torch.Tensor:
    x = centres.unsqueeze(1) + std * torch.randn(centres.shape[0], n_per, centres.shape[1])
    return x.reshape(-1, centres.shape[1])[torch.randperm(centres.shape[0] * n_per)]


def test_ema_converges_to_cluster_means() -> None:
    torch.manual_seed(0)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0], [0.0, -4.0]])
    cb = EMACodebook(2, 4, CodebookConfig(decay=0.9, kmeans_init=False, threshold_dead=0.0))
    with torch.no_grad():  # start each code near (not at) one centre
        cb.embedding.copy_(centres + 0.8)
        cb.embedding_sum.copy_(cb.embedding)
    for _ in range(150):
        step(cb, mixture(centres, 64, 0.5))
    # stationary point of the EMA = the cluster means (the centres), up to sampling noise
    assert_close(cb.embedding, centres, atol=0.1, rtol=0.0)
    assert_close(
        cb.embedding, cb.embedding_sum / cb.cluster_usage.unsqueeze(1), atol=1e-3, rtol=0.0
    )


def test_dead_code_reset_moves_code_and_statistics_and_sticks() -> None:
    torch.manual_seed(0)
    centres = torch.randn(8, 4) * 3
    cb = EMACodebook(4, 8, CodebookConfig(decay=0.99, kmeans_init=True, threshold_dead=0.1))
    cb.init_from_data(mixture(centres, 32, 0.3))
    far = torch.full((4,), 1000.0)
    with torch.no_grad():  # force code 3 dead: far away and unused
        cb.embedding[3] = far
        cb.embedding_sum[3] = far * 1e-3
        cb.cluster_usage[3] = 1e-3
    data = mixture(centres, 32, 0.3)
    resets = step(cb, data)
    assert resets.item() >= 1
    new = cb.embedding[3].clone()
    # near live data, not near the old position
    assert Fq.squared_distances(new.unsqueeze(0), data).min().item() < 1e-3
    # its statistics were replaced too: usage at the uniform share, sum consistent with it
    share = cb.cluster_usage.sum() / 8
    assert cb.cluster_usage[3].item() > 0.5 * share.item()
    assert_close(cb.embedding_sum[3] / cb.cluster_usage[3], new, atol=1e-4, rtol=1e-4)
    # the next EMA step does not undo it (EnCodec's bug): still near data, far from 1000
    step(cb, mixture(centres, 32, 0.3))
    assert (cb.embedding[3] - far).norm() > 100
    assert Fq.squared_distances(cb.embedding[3:4], data).min().item() < 1.0


def test_reset_in_gradient_mode_writes_the_parameter() -> None:
    torch.manual_seed(0)
    cb = EMACodebook(2, 4, CodebookConfig(ema=False, kmeans_init=False, threshold_dead=0.5))
    assert isinstance(cb.embedding, torch.nn.Parameter)
    with torch.no_grad():
        cb.embedding[1] = 500.0
        cb.cluster_usage.copy_(torch.tensor([1.0, 0.0, 1.0, 1.0]))
    x = torch.randn(64, 2)
    assert step(cb, x).item() >= 1
    assert cb.embedding[1].abs().max() < 10


def test_masked_statistics_equal_unpadded_batch() -> None:
    torch.manual_seed(0)
    a = EMACodebook(3, 8, CodebookConfig(kmeans_init=False, threshold_dead=0.0))
    b = EMACodebook(3, 8, CodebookConfig(kmeans_init=False, threshold_dead=0.0))
    b.load_state_dict(a.state_dict())
    x = torch.randn(40, 3)
    w = (torch.rand(40) > 0.3).float()
    padded = x.clone()
    padded[w == 0] = 50.0  # garbage in padded frames must not matter
    step(a, padded, w)
    step(b, x[w > 0])
    assert_close(a.cluster_usage, b.cluster_usage)
    assert_close(a.embedding_sum, b.embedding_sum)


def test_reset_schedule_and_threshold_zero() -> None:
    cb = EMACodebook(2, 4, CodebookConfig(kmeans_init=False, reset_every=3))
    dues = []
    for _ in range(6):
        dues.append(cb.reset_due())
        step(cb, torch.randn(8, 2))
    assert dues == [False, False, True, False, False, True]
    assert not EMACodebook(2, 4, CodebookConfig(kmeans_init=False, threshold_dead=0.0)).reset_due()
    assert not EMACodebook(
        2, 4, CodebookConfig(kmeans_init=True)
    ).reset_due()  # not before k-means init


def test_state_dict_restores_flags_and_counters() -> None:
    torch.manual_seed(0)
    cb = EMACodebook(2, 4, CodebookConfig(kmeans_init=True))
    cb.init_from_data(torch.randn(32, 2))
    step(cb, torch.randn(16, 2))
    fresh = EMACodebook(2, 4, CodebookConfig(kmeans_init=True))
    assert not fresh.is_initialized
    fresh.load_state_dict(cb.state_dict())
    assert fresh.is_initialized and fresh.update_count == 1
    assert torch.equal(fresh.embedding, cb.embedding)


def test_window_detector_resets_an_unused_code_within_the_window() -> None:
    torch.manual_seed(0)
    centres = torch.randn(8, 4) * 3
    # a slow EMA (decay 0.999) would take hundreds of updates to call the code dead
    config = CodebookConfig(decay=0.999, threshold_dead=0.1, dead_window=3)
    cb = EMACodebook(4, 8, config)
    cb.init_from_data(mixture(centres, 32, 0.3))
    with torch.no_grad():  # code 5 sits far from all data: it stops being assigned
        cb.embedding_sum[5] = 1000.0 * cb.cluster_usage[5]
        cb.embedding[5] = 1000.0
    resets = [step(cb, mixture(centres, 32, 0.3)).item() for _ in range(4)]
    assert resets[:2] == [0, 0]  # not before the window has passed
    assert sum(resets[2:]) >= 1
    assert cb.embedding[5].abs().max().item() < 100  # moved back to the data
    assert cb.last_used is not None and cb.last_used[5].item() >= 3  # a fresh window


def test_decay_warmup_follows_a_moving_latent_and_finds_left_codes_dead() -> None:
    """Data that jumps away after the k-means fit (a fresh encoder's latent does): with the
    warm-up the codes and their usage follow within a few updates; with the plain decay 0.95
    the codes the data left stay alive (EMA usage above the threshold) for ~45 updates."""
    torch.manual_seed(0)
    centres = torch.randn(16, 4) * 3
    results = {}
    for warmup in (0, 10):
        torch.manual_seed(1)
        cb = EMACodebook(4, 16, CodebookConfig(decay=0.95, decay_warmup=warmup))
        cb.init_from_data(mixture(centres, 16, 0.3))
        moved = centres + 20.0  # every cluster leaves its code behind
        resets = sum(step(cb, mixture(moved, 16, 0.3)).item() for _ in range(8))
        codes = cb.nearest(mixture(moved, 16, 0.3))
        results[warmup] = (resets, len(torch.unique(codes)))
    assert results[0][0] == 0 and results[0][1] <= 4  # stale codes, a few take every vector
    assert results[10][0] >= 8 and results[10][1] >= 12  # codes rebuilt on the moved data


def test_bad_decay_warmup_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="decay_warmup must be >= 0"):
        CodebookConfig(decay_warmup=-1)


def test_window_detector_off_adds_no_state_and_dead_mask_matches_threshold() -> None:
    cb = EMACodebook(4, 8, CodebookConfig(threshold_dead=0.5))
    assert "last_used" not in cb.state_dict()
    with torch.no_grad():
        cb.cluster_usage.copy_(torch.tensor([1.0, 1, 1, 1, 1, 1, 1, 0.1]))
    assert cb.dead_mask().tolist() == [False] * 7 + [True]
    windowed = EMACodebook(4, 8, CodebookConfig(threshold_dead=0.0, dead_window=2))
    assert windowed.config.resets and "last_used" in windowed.state_dict()
