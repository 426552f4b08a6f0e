"""Corpus encoding throughput: audio-hours encoded per wall-clock hour, ours vs ``encodec``.

Run from the repository root: ``python bench/encode_corpus.py [--minutes 10] [--threads 2]``.
Prints a Markdown table (section "## Encode corpus" of BENCHMARKS.md). The rows run
interleaved for ``--rounds`` rounds (order reversed every other round) and the best wall time
of each is kept, so load from other processes on a shared machine biases no row.

Corpus: the bundled speech (``assets/speech``, 16 kHz FLAC) repeated to ``--minutes`` of audio,
encoded by a 24 kHz causal EnCodec-layout model (SEANet ratios 8-5-4-2, 2-layer LSTM, 8 levels
x 1024 codes = 6 kbps) with ``--filters`` base channels (8 by default: a small model, so the
benchmark finishes on a laptop CPU; 32 is the released EnCodec size). Weights are random but
*identical* in both packages: the peer's ``EncodecModel`` is built first, then its state dict
is converted with :func:`codec.convert.convert_encodec_state_dict` into our ``Codec``.

Every row does the whole job: read FLAC, resample 16 -> 24 kHz (soxr for both), encode, write
one token file per input. Rows:

- ours, batch 1: :class:`codec.encoding.FileEncoder` one file per forward pass;
- ours, batched: files sorted by length, padded batches with per-item lengths;
- ours, batched + loader worker: loading/resampling in a DataLoader worker process;
- encodec, own loop: ``model.encode(wav)`` per file, as its command line does (it has no
  lengths, so it cannot batch files of different lengths).

The ``encodec`` package imports ``torchaudio`` at module level; a stand-in module is put in
``sys.modules`` (nothing of it is used here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from codec.config import CodecConfig, QuantizerConfig, SEANetConfig
from codec.convert import convert_encodec_state_dict
from codec.data.manifest import bundled_speech
from codec.encoding import FileEncoder, Job
from codec.model import Codec

SAMPLE_RATE = 24000
LEVELS = 8


def corpus(minutes: float) -> list[Path]:
    """Bundled speech files, repeated until ``minutes`` of audio."""
    records = bundled_speech()
    files: list[Path] = []
    total = 0.0
    while total < minutes * 60:
        for record in records:
            files.append(record.path)
            total += record.duration
            if total >= minutes * 60:
                break
    return files


def peer_model(filters: int) -> torch.nn.Module:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    from encodec import EncodecModel
    from encodec.modules import SEANetDecoder, SEANetEncoder
    from encodec.quantization import ResidualVectorQuantizer

    torch.manual_seed(0)
    encoder = SEANetEncoder(n_filters=filters, causal=True)
    decoder = SEANetDecoder(n_filters=filters, causal=True)
    quantizer = ResidualVectorQuantizer(dimension=128, n_q=LEVELS, bins=1024)
    for layer in quantizer.vq.layers:  # random, initialised codebooks
        layer._codebook.embed.data.normal_()
        layer._codebook.inited.fill_(1)
    model = EncodecModel(encoder, decoder, quantizer, [6.0], SAMPLE_RATE, 1, name="peer")
    model.set_target_bandwidth(6.0)
    return model.eval()


def our_model(peer: torch.nn.Module, filters: int) -> Codec:
    config = CodecConfig(
        sample_rate=SAMPLE_RATE,
        seanet=SEANetConfig(n_filters=filters, causal=True, true_skip=False),
        quantizer=QuantizerConfig(num_levels=LEVELS, codebook_size=1024),
        model_id=f"bench-encodec-f{filters}",
    )
    model = Codec(config)
    state = convert_encodec_state_dict(peer.state_dict(), source="encodec", config=config)
    model.load_state_dict(state)
    return model.eval()


def run_ours(
    codec: Codec, files: list[Path], out: Path, batch: int, workers: int, seconds: float = 30.0
) -> float:
    jobs = [Job(path, out / f"{i:05d}.tok") for i, path in enumerate(files)]
    encoder = FileEncoder(codec, batch_size=batch, workers=workers, batch_seconds=seconds)
    start = time.perf_counter()
    report = encoder.run(jobs)
    wall = time.perf_counter() - start
    assert not report.failures and report.encoded == len(files), report.failures
    return wall


@torch.no_grad()
def run_peer(model: torch.nn.Module, files: list[Path], out: Path) -> float:
    start = time.perf_counter()
    for i, path in enumerate(files):
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        data = soxr.resample(data.mean(1), rate, SAMPLE_RATE)
        frames = model.encode(torch.from_numpy(data)[None, None])  # type: ignore[operator]
        codes = torch.cat([c for c, _ in frames], -1)
        np.save(out / f"{i:05d}.npy", codes.numpy().astype(np.uint16))
    return time.perf_counter() - start


def agreement(codec: Codec, peer: torch.nn.Module, files: list[Path]) -> float:
    """Fraction of equal codes, ours vs peer, on whole-frame-length clips of ``files``."""
    equal = total = 0
    for path in files[:4]:
        data, rate = sf.read(str(path), dtype="float32")
        wav = torch.from_numpy(soxr.resample(data, rate, SAMPLE_RATE))[None, None]
        wav = wav[..., : wav.shape[-1] // codec.hop_length * codec.hop_length]
        ours = codec.encode(wav, SAMPLE_RATE).codes
        with torch.no_grad():
            theirs = torch.cat([c for c, _ in peer.encode(wav)], -1)  # type: ignore[operator]
        equal += int((ours == theirs).sum())
        total += ours.numel()
    return equal / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="corpus length")
    parser.add_argument("--filters", type=int, default=8, help="SEANet base channels")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batch-seconds", type=float, default=30.0, help="padded audio/batch")
    parser.add_argument("--rounds", type=int, default=2, help="best of N interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: see notes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = corpus(args.minutes)
    seconds = sum(sf.info(str(p)).duration for p in files)
    peer = peer_model(args.filters)
    codec = our_model(peer, args.filters)
    params = sum(p.numel() for p in codec.encoder.parameters()) / 1e6
    print(
        f"corpus: {len(files)} files, {seconds / 60:.1f} min; model: EnCodec layout, "
        f"{args.filters} filters, encoder {params:.2f} M params, {LEVELS} x 1024 codes; "
        f"torch threads {args.threads}; codes equal to peer: {agreement(codec, peer, files):.4f}"
    )
    rows = [
        ("ours, batch 1", lambda out: run_ours(codec, files, out, 1, 0)),
        (
            f"ours, batch {args.batch} (<= {args.batch_seconds:g} s padded)",
            lambda out: run_ours(codec, files, out, args.batch, 0, args.batch_seconds),
        ),
        (
            f"ours, batch {args.batch} + 1 loader worker",
            lambda out: run_ours(codec, files, out, args.batch, 1, args.batch_seconds),
        ),
        ("encodec 0.1.1, own loop (batch 1)", lambda out: run_peer(peer, files, out)),
    ]
    results: dict[str, float] = {}
    for round_ in range(args.rounds):  # interleaved, order reversed each round; keep the best
        for name, fn in rows if round_ % 2 == 0 else rows[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                wall = fn(Path(tmp))
            results[name] = min(wall, results.get(name, float("inf")))
            print(f"  round {round_ + 1}: {name}: {wall:.1f} s", file=sys.stderr)
    results = {name: results[name] for name, _ in rows}
    peer_wall = results[rows[-1][0]]
    print("\n| run | wall (s) | audio-h per wall-h | vs encodec loop |")
    print("|---|---:|---:|---:|")
    for name, wall in results.items():
        print(f"| {name} | {wall:.1f} | {seconds / wall:.1f} | {peer_wall / wall:.2f}x |")


if __name__ == "__main__":
    main()
