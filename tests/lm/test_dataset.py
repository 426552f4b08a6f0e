"""TokenShardDataset: valid ids, crops, collate, and inversion back to the stored codes."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from codec.lm.dataset import TokenShardDataset
from codec.lm.export import export_tokens
from codec.lm.shards import TokenShards
from codec.lm.vocab import LAYOUTS, Vocabulary
from codec.model import Codec


@pytest.fixture
def shard_dir(codec: Codec, speech_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "shards"
    export_tokens(codec, speech_dir, out, shard_size=800)
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_items_are_valid_and_invert(shard_dir: Path, layout: str) -> None:
    ds = TokenShardDataset(shard_dir, layout=layout)
    shards = TokenShards(shard_dir)
    assert len(ds) == len(shards) == 5
    v = ds.vocab
    for i in range(len(ds)):
        item = ds[i]
        ids = item["ids"]
        assert ids.dtype == torch.long and ids.dim() == v.sequence_dim
        assert int(ids.min()) >= 0 and int(ids.max()) < v.vocab_size
        codes = ds.decode(ids)
        np.testing.assert_array_equal(codes.numpy(), shards.codes(item["index"]))


def test_crops(shard_dir: Path) -> None:
    ds = TokenShardDataset(shard_dir, layout="delay", max_frames=64, random_crop=True)
    torch.manual_seed(0)
    starts = set()
    for _ in range(5):
        item = ds[4]
        assert item["num_frames"] == 64
        assert item["ids"].shape == (4, 64 + 3 + 2)  # delay adds K-1 steps, BOS/EOS add two
        codes = ds.decode(item["ids"])
        full = TokenShards(shard_dir).codes(item["index"])
        np.testing.assert_array_equal(codes.numpy(), full[:, item["start"] : item["start"] + 64])
        starts.add(item["start"])
    assert len(starts) > 1
    fixed = TokenShardDataset(shard_dir, layout="flatten", max_frames=10, random_crop=False)
    assert fixed[2]["start"] == 0 and fixed[2]["ids"].shape == (4 * 10 + 2,)


def test_collate_pads_with_pad_and_masks(shard_dir: Path) -> None:
    ds = TokenShardDataset(shard_dir, layout="delay", add_bos_eos=True)
    loader = DataLoader(ds, batch_size=3, collate_fn=ds.collate, shuffle=False)
    batch = next(iter(loader))
    ids, mask, lengths = batch["ids"], batch["mask"], batch["lengths"]
    assert ids.shape[:2] == (3, 4) and mask.shape == (3, ids.shape[-1])
    for b in range(3):
        n = int(lengths[b])
        assert mask[b, :n].all() and not mask[b, n:].any()
        assert (ids[b, :, n:] == ds.pad_id).all()
        codes = ds.decode(ids[b, :, :n])
        np.testing.assert_array_equal(
            codes.numpy(), TokenShards(shard_dir).codes(int(batch["index"][b]))
        )
    flat = TokenShardDataset(shard_dir, layout="flatten")
    fb = flat.collate([flat[0], flat[1]])
    assert fb["ids"].dim() == 2 and fb["mask"].shape == fb["ids"].shape


def test_fewer_codebooks_and_decode_to_audio(codec: Codec, shard_dir: Path) -> None:
    ds = TokenShardDataset(shard_dir, layout="ar_nar", num_codebooks=2)
    shards = TokenShards(shard_dir)
    item = ds[1]
    codes = ds.decode(item["ids"])
    np.testing.assert_array_equal(codes.numpy(), shards.codes(1)[[0, 2]])  # level 0 of each group
    tokens = ds.to_tokens(codes, shards.items[1].num_samples)
    audio = codec.decode(tokens)
    assert audio.shape == (1, 1, shards.items[1].num_samples)
    with pytest.raises(ValueError, match="multiple of groups"):
        TokenShardDataset(shard_dir, num_codebooks=3)


def test_vocabulary_object_and_mismatch(shard_dir: Path) -> None:
    good = Vocabulary(
        codebook_size=300, num_codebooks=4, groups=2, layout="flatten_sep", interleave=True
    )
    ds = TokenShardDataset(shard_dir, layout=good)
    assert torch.equal(
        ds.decode(ds[0]["ids"]), torch.from_numpy(TokenShards(shard_dir).codes(0).astype(np.int64))
    )
    with pytest.raises(ValueError, match="codebook_size"):
        TokenShardDataset(shard_dir, layout=Vocabulary(codebook_size=64, num_codebooks=4, groups=2))


def test_workers(shard_dir: Path) -> None:
    ds = TokenShardDataset(shard_dir, layout="delay", max_frames=32)
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=ds.collate)
    batches = list(loader)
    assert sum(b["ids"].shape[0] for b in batches) == 5
