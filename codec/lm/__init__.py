"""Tokens for language models: layouts with exact inverses, the vocabulary description, corpus
export to memory-mapped shards, and a dataset of LM-ready sequences.

Importing this package does not import the export machinery's audio loaders until used.
"""

from codec.lm.dataset import TokenShardDataset, collate_sequences
from codec.lm.layouts import (
    add_offsets,
    deinterleave_groups,
    delay,
    flatten,
    interleave_groups,
    merge_ar_nar,
    remove_offsets,
    split_ar_nar,
    undelay,
    unflatten,
)
from codec.lm.shards import TokenShards, read_shard_manifest
from codec.lm.vocab import LAYOUTS, Vocabulary

__all__ = [
    "LAYOUTS",
    "TokenShardDataset",
    "TokenShards",
    "Vocabulary",
    "add_offsets",
    "collate_sequences",
    "deinterleave_groups",
    "delay",
    "export_tokens",
    "flatten",
    "interleave_groups",
    "merge_ar_nar",
    "read_shard_manifest",
    "remove_offsets",
    "split_ar_nar",
    "undelay",
    "unflatten",
]


def __getattr__(name: str) -> object:
    if name == "export_tokens":  # lazy: pulls in the model and audio loading
        from codec.lm.export import export_tokens

        return export_tokens
    raise AttributeError(f"module 'codec.lm' has no attribute {name!r}")
