"""Parquet token files against the ``.npy`` shards: bytes on disk and in memory.

Run from the repository root: ``python bench/token_parquet.py [--threads 1]``. Exports the
whole bundled speech (``assets/speech/manifest.jsonl``, 265 files) with the shipped model
(``speech-16k-6kbps``, 12 codebooks of 1024) with ``--parquet``, then compares the codes'
bytes: the ``.npy`` shards (uint16), the Parquet files as written (with every field), the
codes alone as ``list<list<uint16>>`` and in the former layout (``list<list<int64>>``), both
with pyarrow's default encoding, and the codes column in memory as Arrow (what ``datasets``
caches) in both layouts. Run it with this checkout first on ``sys.path`` (``PYTHONPATH=.``
unless the package is installed from it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from codec.bundled import DEFAULT_MODEL
from codec.data.manifest import BUNDLED_SPEECH_DIR
from codec.lm.export import export_tokens
from codec.lm.shards import TokenShards
from codec.loading import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codec = load_model(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tokens"
        start = time.perf_counter()
        manifest = export_tokens(codec, BUNDLED_SPEECH_DIR / "manifest.jsonl", out, parquet=True)
        seconds = time.perf_counter() - start
        shards = manifest["shards"]
        npy = sum((out / s["codes"]).stat().st_size for s in shards)
        written = sum((out / s["parquet"]).stat().st_size for s in shards)
        new = pa.concat_tables([pq.read_table(out / s["parquet"]) for s in shards])
        tokens = TokenShards(out)
        codes = [np.asarray(tokens.codes(i)).astype(np.int64).tolist() for i in range(len(tokens))]
        old = pa.table({"codes": pa.array(codes, pa.list_(pa.list_(pa.int64())))})
        pq.write_table(old, Path(tmp) / "old.parquet")
        old_bytes = (Path(tmp) / "old.parquet").stat().st_size
        pq.write_table(new.select(["codes"]), Path(tmp) / "new.parquet")
        new_bytes = (Path(tmp) / "new.parquet").stat().st_size
    print(
        f"{manifest['num_items']} files, {manifest['num_frames']} frames x "
        f"{manifest['num_codebooks']} codebooks of {manifest['codebook_size']} "
        f"({manifest['dtype']}); export {seconds:.1f} s, pyarrow {pa.__version__}\n"
    )
    print("| codes stored as | bytes | x .npy |\n|---|---:|---:|")
    for name, size in (
        (".npy shards (uint16)", npy),
        ("Parquet files as written (codes and every field)", written),
        ("Parquet, codes only, list<list<uint16>>", new_bytes),
        ("Parquet, codes only, list<list<int64>> (former)", old_bytes),
        ("Arrow in memory, list<list<uint16>>", new.column("codes").nbytes),
        ("Arrow in memory, list<list<int64>>", old.column("codes").nbytes),
    ):
        print(f"| {name} | {size} | {size / npy:.2f} |")


if __name__ == "__main__":
    main()
