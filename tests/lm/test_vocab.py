"""Vocabulary: special ids, layouts end to end, JSON round trip."""

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.lm.vocab import LAYOUTS, Vocabulary

torch.set_num_threads(1)


def make_vocab(layout: str = "delay", **kw: object) -> Vocabulary:
    base: dict[str, object] = dict(
        codebook_size=16,
        num_codebooks=4,
        groups=2,
        frame_rate=50.0,
        sample_rate=16000,
        model_id="m",
    )
    base.update(kw)
    return Vocabulary(layout=layout, **base)  # type: ignore[arg-type]


def test_special_ids_do_not_collide_with_codes() -> None:
    v = make_vocab()
    specials = set(v.special_ids.values())
    assert len(specials) == 4
    assert all(0 <= s < v.num_special for s in specials)
    code_ids = set(range(v.offsets[0], v.vocab_size))
    assert not specials & code_ids
    assert v.vocab_size == 4 + 4 * 16
    assert v.offsets == [4, 20, 36, 52]
    assert [v.code_range(k) for k in range(4)] == [(4, 20), (20, 36), (36, 52), (52, 68)]
    all_ids = v.codes_to_ids(torch.arange(16).repeat(4, 1))
    assert sorted(all_ids.flatten().tolist()) == list(range(4, 68))


def test_bad_special_ids_rejected() -> None:
    with pytest.raises(ValueError, match="collide"):
        make_vocab(bos_id=0)
    with pytest.raises(ValueError, match="num_special"):
        make_vocab(sep_id=4)
    with pytest.raises(ValueError, match="layout"):
        make_vocab(layout="spiral")
    with pytest.raises(ValueError, match="groups"):
        make_vocab(num_codebooks=3)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(LAYOUTS),
    st.booleans(),
    st.booleans(),
    st.integers(0, 10),
    st.sampled_from([(1, 1), (1, 3), (2, 2), (3, 2)]),
    st.integers(0, 2**31 - 1),
)
def test_layout_round_trip(
    layout: str, bos: bool, interleave: bool, t: int, gl: tuple[int, int], seed: int
) -> None:
    groups, levels = gl
    v = make_vocab(layout, num_codebooks=groups * levels, groups=groups, interleave=interleave)
    codes = torch.randint(
        0, 16, (v.num_codebooks, t), generator=torch.Generator().manual_seed(seed)
    )
    seq = v.encode(codes, add_bos_eos=bos)
    assert seq.dim() == v.sequence_dim
    if seq.numel():
        assert 0 <= int(seq.min()) <= int(seq.max()) < v.vocab_size
    assert torch.equal(v.decode(seq), codes)


def test_delay_layout_with_bos_eos() -> None:
    v = make_vocab("delay", num_codebooks=2, groups=1)
    seq = v.encode(torch.tensor([[0, 1], [2, 3]]))
    assert seq.tolist() == [[1, 4, 5, 0, 2], [1, 0, 22, 23, 2]]
    assert v.decode(seq).tolist() == [[0, 1], [2, 3]]


def test_ar_nar_layout_marks_only_the_ar_row() -> None:
    v = make_vocab("ar_nar", num_codebooks=3, groups=1)
    seq = v.encode(torch.tensor([[0, 1], [2, 3], [4, 5]]))
    assert seq[0].tolist() == [1, 4, 5, 2]
    assert seq[1].tolist() == [0, 22, 23, 0]


def test_decode_stops_at_eos_and_rejects_foreign_ids() -> None:
    v = make_vocab("flatten", num_codebooks=2, groups=1)
    seq = v.encode(torch.tensor([[3], [5]]))
    assert v.decode(torch.cat([seq, torch.tensor([7, 30])])).tolist() == [[3], [5]]
    with pytest.raises(ValueError, match="codebook"):
        v.decode(torch.tensor([1, 25, 7, 2]))  # 25 is codebook 1's, in codebook 0's slot
    with pytest.raises(ValueError, match="multiple"):
        v.decode(torch.tensor([1, 5, 2]))
    with pytest.raises(ValueError, match="out of range"):
        v.encode(torch.tensor([[16], [0]]))
    with pytest.raises(ValueError, match="2 codebooks"):
        v.encode(torch.zeros(3, 2, dtype=torch.long))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_json_round_trip(tmp_path: Path, layout: str) -> None:
    v = make_vocab(layout, delays=(0, 1, 1, 1) if layout == "delay" else None, interleave=True)
    again = Vocabulary.from_json(v.to_json())
    assert again == v
    data = json.loads(v.to_json())
    for key in (
        "num_special",
        "special_ids",
        "codebook_size",
        "num_codebooks",
        "offsets",
        "layout",
        "vocab_size",
        "frame_rate",
        "model_id",
    ):
        assert key in data
    assert data["vocab_size"] == v.vocab_size
    v.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == v


def test_json_rejects_inconsistent_or_unknown_fields() -> None:
    data = make_vocab().to_dict()
    with pytest.raises(ValueError, match="vocab_size"):
        Vocabulary.from_dict({**data, "vocab_size": 3})
    with pytest.raises(ValueError, match="unknown"):
        Vocabulary.from_dict({**data, "colour": "red"})
    with pytest.raises(ValueError, match="JSON"):
        Vocabulary.from_json("{not json")
