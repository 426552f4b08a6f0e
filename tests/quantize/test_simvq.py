"""SimVQ codebooks: a frozen basis, a learnt linear map, inside the existing VQ stack."""

from __future__ import annotations

import pytest
import torch

from codec.quantize import CodebookConfig, GroupedResidualVQ, SimVQCodebook
from tests.quantize.helpers import assert_close, assert_straight_through


def make(kmeans_init: bool = False, decay: float = 0.99, **kw: object) -> GroupedResidualVQ:
    torch.manual_seed(0)
    codebook = CodebookConfig(kmeans_init=kmeans_init, decay=decay)
    return GroupedResidualVQ(
        8, 2, 2, codebook_size=16, codebook=codebook, codebook_type=SimVQCodebook, **kw
    )  # type: ignore[arg-type]


def codebooks(q: GroupedResidualVQ) -> list[SimVQCodebook]:
    out = [cb for _, cb in q.named_codebooks(q.num_levels)]
    assert all(isinstance(cb, SimVQCodebook) for cb in out)
    return out  # type: ignore[return-value]


def test_codebook_is_the_basis_mapped_by_proj() -> None:
    cb = SimVQCodebook(4, 16, seed=3)
    assert [n for n, _ in cb.named_parameters()] == ["proj.weight"]
    assert set(cb.state_dict()) == {
        "initialized", "updates", "cluster_usage", "basis", "proj.weight"
    }  # fmt: skip
    assert not cb.basis.requires_grad
    assert torch.equal(cb.embedding, cb.basis)  # proj starts at the identity
    with torch.no_grad():
        cb.proj.weight.mul_(2.0)
    assert_close(cb.embedding, 2.0 * cb.basis)
    codes = torch.tensor([3, 0, 3])
    assert_close(cb.lookup(codes), cb.embedding[codes])
    # seeded: the same basis for the same seed, another for another
    assert torch.equal(SimVQCodebook(4, 16, seed=3).basis, SimVQCodebook(4, 16, seed=3).basis)
    assert not torch.equal(SimVQCodebook(4, 16, seed=4).basis, cb.basis)
    assert cb.config.ema is False and not cb.reset_due()


def test_basis_frozen_and_proj_trained_by_the_codebook_loss() -> None:
    q = make().train()
    basis = [cb.basis.clone() for cb in codebooks(q)]
    opt = torch.optim.SGD(q.parameters(), lr=0.5)
    x = torch.randn(4, 8, 16) * 2
    codes_before = q.eval().encode(x)
    q.train()
    for _ in range(5):
        out = q(x)
        assert set(out.losses) == {"vq/commit", "vq/codebook"}
        opt.zero_grad()
        out.loss.backward()
        for cb in codebooks(q):
            assert cb.proj.weight.grad is not None and cb.proj.weight.grad.abs().sum() > 0
        opt.step()
    for cb, b in zip(codebooks(q), basis):
        assert torch.equal(cb.basis, b)
        assert cb.basis.grad is None
    assert not torch.equal(q.eval().encode(x), codes_before), "a trained map moves the codes"


def test_search_follows_the_trained_map() -> None:
    """The cached search tables are refreshed when proj changes in place (optimizer step)."""
    cb = SimVQCodebook(4, 8, seed=0)
    x = torch.randn(32, 4)
    before = cb.nearest(x)
    with torch.no_grad():
        cb.proj.weight.copy_(torch.diag(torch.tensor([1.0, -1.0, 3.0, 0.5])))
    expected = ((x[:, None] - cb.embedding.detach()[None]) ** 2).sum(-1).argmin(1)
    assert torch.equal(cb.nearest(x), expected)
    assert not torch.equal(before, expected)


def test_first_batch_scales_the_map_to_the_data() -> None:
    torch.manual_seed(0)
    x = torch.randn(4096, 4) * torch.tensor([10.0, 1.0, 0.1, 5.0])
    cb = SimVQCodebook(4, 4096, CodebookConfig(kmeans_init=True), seed=0)
    assert not cb.is_initialized
    cb.init_from_data(x)
    assert cb.is_initialized and bool(cb.initialized)
    second_moment = (cb.embedding.detach().T @ cb.embedding.detach()) / 4096
    target = x.T @ x / 4096
    assert_close(second_moment.diagonal(), target.diagonal(), rtol=0.1, atol=0.0)
    # a rank-deficient batch still initialises (ridge), an all-zero one keeps the identity
    flat = SimVQCodebook(4, 8, CodebookConfig(kmeans_init=True))
    flat.init_from_data(torch.randn(64, 1).repeat(1, 4))
    assert flat.is_initialized and torch.isfinite(flat.proj.weight).all()
    zero = SimVQCodebook(4, 8, CodebookConfig(kmeans_init=True))
    zero.init_from_data(torch.zeros(64, 4))
    assert torch.equal(zero.proj.weight, torch.eye(4))


def test_kmeans_init_flag_goes_through_the_quantizer() -> None:
    q = make(kmeans_init=True).train()
    assert not any(cb.is_initialized for cb in codebooks(q))
    q(torch.randn(2, 8, 12) * 7)
    assert all(cb.is_initialized for cb in codebooks(q))


def test_state_dict_round_trip() -> None:
    q = make().train()
    opt = torch.optim.SGD(q.parameters(), lr=0.5)
    x = torch.randn(3, 8, 10)
    for _ in range(2):
        opt.zero_grad()
        q(x).loss.backward()
        opt.step()
    q.eval()
    codes = q.encode(x)  # fills the search caches
    torch.manual_seed(123)
    fresh = GroupedResidualVQ(
        8, 2, 2, codebook_size=16, codebook=CodebookConfig(kmeans_init=False),
        codebook_type=SimVQCodebook,
    ).eval()  # fmt: skip
    fresh.encode(x)  # stale caches must not survive the load
    fresh.load_state_dict(q.state_dict())
    assert torch.equal(fresh.encode(x), codes)
    assert torch.equal(fresh.decode(codes), q.decode(codes))


def test_straight_through_and_decode_equals_forward() -> None:
    q = make()
    out = assert_straight_through(q.train(), torch.randn(2, 8, 6))
    q.eval()
    x = torch.randn(2, 8, 6)
    out = q(x)
    assert torch.equal(q.decode(q.encode(x)), out.quantized)


def test_dead_codes_are_counted_but_never_reset() -> None:
    q = make(decay=0.5)
    q.train()
    x = torch.zeros(2, 8, 12)  # one code per codebook: the others die
    for _ in range(10):
        out = q(x)
    dead = [v.item() for k, v in out.metrics.items() if k.startswith("vq/dead/")]
    resets = [v.item() for k, v in out.metrics.items() if k.startswith("vq/resets/")]
    assert min(dead) > 0.5 and max(resets) == 0.0
    for cb in codebooks(q):
        assert torch.equal(cb.embedding, cb.basis)  # nothing rewrote the codes


@pytest.mark.parametrize("normalize", [False, True])
def test_factorized_codes_use_a_smaller_basis(normalize: bool) -> None:
    codebook = CodebookConfig(codebook_dim=3, normalize=normalize, kmeans_init=False)
    q = GroupedResidualVQ(8, 1, 2, codebook_size=16, codebook=codebook, codebook_type=SimVQCodebook)
    cb = codebooks(q)[0]
    assert cb.basis.shape == (16, 3) and cb.proj.weight.shape == (3, 3)
    out = q.train()(torch.randn(2, 8, 5))
    assert out.codes.shape == (2, 2, 5)
