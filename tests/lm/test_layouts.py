"""Round trips and error handling of the pure layouts (property-based)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.lm import layouts as L

torch.set_num_threads(1)


@st.composite
def code_arrays(draw: st.DrawFn, max_k: int = 6, max_t: int = 12) -> tuple[torch.Tensor, int]:
    k = draw(st.integers(1, max_k))
    t = draw(st.integers(0, max_t))
    size = draw(st.integers(1, 2000))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, size, (k, t), generator=g), size


@settings(max_examples=60, deadline=None)
@given(code_arrays(), st.integers(0, 8))
def test_offsets_round_trip(data: tuple[torch.Tensor, int], num_special: int) -> None:
    codes, size = data
    ids = L.add_offsets(codes, size, num_special)
    assert ids.shape == codes.shape
    if codes.numel():
        assert int(ids.min()) >= num_special
        assert int(ids.max()) < num_special + codes.shape[0] * size
        for k in range(codes.shape[0]):  # each codebook owns its own id range
            lo = num_special + k * size
            assert bool(((ids[k] >= lo) & (ids[k] < lo + size)).all())
    assert torch.equal(L.remove_offsets(ids, size, num_special), codes)


@settings(max_examples=60, deadline=None)
@given(code_arrays(), st.sampled_from(["frame", "codebook"]), st.booleans())
def test_flatten_round_trip(data: tuple[torch.Tensor, int], order: str, sep: bool) -> None:
    codes, size = data
    sep_id = -7 if sep and order == "frame" else None
    seq = L.flatten(codes, order, sep_id)
    k, t = codes.shape
    assert seq.shape == ((k + (sep_id is not None)) * t,)
    assert torch.equal(L.unflatten(seq, k, order, sep_id), codes)


def test_flatten_orders_are_as_documented() -> None:
    x = torch.tensor([[1, 2, 3], [10, 20, 30]])
    assert L.flatten(x, "frame").tolist() == [1, 10, 2, 20, 3, 30]
    assert L.flatten(x, "codebook").tolist() == [1, 2, 3, 10, 20, 30]
    assert L.flatten(x, "frame", sep_id=0).tolist() == [1, 10, 0, 2, 20, 0, 3, 30, 0]


@settings(max_examples=60, deadline=None)
@given(code_arrays(), st.data())
def test_delay_round_trip(data: tuple[torch.Tensor, int], extra: st.DataObject) -> None:
    codes, _ = data
    k, t = codes.shape
    custom = extra.draw(st.booleans())
    delays = extra.draw(st.lists(st.integers(0, 4), min_size=k, max_size=k)) if custom else None
    out = L.delay(codes, pad_id=-1, delays=delays)
    shifts = delays if delays is not None else list(range(k))
    assert out.shape == (k, t + max(shifts))
    assert int((out == -1).sum()) == k * max(shifts)
    assert torch.equal(L.undelay(out, delays, pad_id=-1), codes)
    assert torch.equal(L.undelay(out, delays), codes)


def test_delay_pattern_is_musicgen_style() -> None:
    x = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert L.delay(x, pad_id=0).tolist() == [
        [1, 2, 3, 0, 0],
        [0, 4, 5, 6, 0],
        [0, 0, 7, 8, 9],
    ]


def test_undelay_strict_checks_padding() -> None:
    out = L.delay(torch.tensor([[1, 2], [3, 4]]), pad_id=0)
    out[1, 0] = 9
    with pytest.raises(ValueError, match="non-PAD"):
        L.undelay(out, pad_id=0)
    assert L.undelay(out).tolist() == [[1, 2], [3, 4]]  # lenient for sampled sequences
    with pytest.raises(ValueError, match="at least"):
        L.undelay(torch.zeros(3, 1, dtype=torch.long))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 6))
def test_group_interleave_round_trip(groups: int, levels: int, t: int) -> None:
    codes = torch.randint(0, 100, (groups * levels, t))
    inter = L.interleave_groups(codes, groups)
    assert torch.equal(L.deinterleave_groups(inter, groups), codes)
    for g in range(groups):
        for lvl in range(levels):
            assert torch.equal(inter[lvl * groups + g], codes[g * levels + lvl])


@settings(max_examples=40, deadline=None)
@given(code_arrays())
def test_ar_nar_round_trip(data: tuple[torch.Tensor, int]) -> None:
    codes, _ = data
    ar, nar = L.split_ar_nar(codes)
    assert ar.shape == (codes.shape[1],)
    assert nar.shape == (codes.shape[0] - 1, codes.shape[1])
    assert torch.equal(L.merge_ar_nar(ar, nar), codes)


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="out of range"):
        L.add_offsets(torch.tensor([[0, 5]]), 5)
    with pytest.raises(ValueError, match="out of range"):
        L.add_offsets(torch.tensor([[-1]]), 5)
    with pytest.raises(ValueError, match=r"\[K, T\]"):
        L.add_offsets(torch.tensor([1, 2]), 5)
    with pytest.raises(ValueError, match="integers"):
        L.add_offsets(torch.zeros(2, 2), 5)
    with pytest.raises(ValueError, match="codebook 1"):
        L.remove_offsets(torch.tensor([[0], [3]]), 5)  # id 3 belongs to codebook 0
    with pytest.raises(ValueError, match="multiple"):
        L.unflatten(torch.arange(5), 2)
    with pytest.raises(ValueError, match="separator"):
        L.unflatten(torch.tensor([1, 2, 5]), 2, sep_id=0)
    with pytest.raises(ValueError, match="groups"):
        L.interleave_groups(torch.zeros(3, 2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="delays"):
        L.delay(torch.zeros(2, 2, dtype=torch.long), 0, delays=[0])
    with pytest.raises(ValueError, match="frames"):
        L.merge_ar_nar(torch.zeros(3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))


def test_numpy_input_and_no_mutation() -> None:
    import numpy as np

    codes = np.array([[1, 2], [3, 0]], dtype=np.uint16)
    ids = L.add_offsets(codes, 4, 2)
    assert ids.dtype == torch.long
    assert ids.tolist() == [[3, 4], [9, 6]]
    t = torch.tensor([[1, 2], [3, 0]])
    L.delay(t, 0)
    L.flatten(t)
    assert t.tolist() == [[1, 2], [3, 0]]
