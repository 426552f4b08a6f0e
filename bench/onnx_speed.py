"""Streaming speed on one CPU thread: PyTorch fp32 vs onnxruntime fp32 vs onnxruntime int8.

Run from the repository root: ``python bench/onnx_speed.py [--seconds 6] [--repeats 3]``.
Prints Markdown tables (BENCHMARKS.md, section "## Streaming on one core: PyTorch vs ONNX").

Models: the bundled ``speech-16k-6kbps`` (spectral encoder, Vocos decoder, 16 kHz) and the
EnCodec-sized 24 kHz model (``experiment=encodec_24k_6kbps``: SEANet 32 filters, ratios
8-5-4-2, 2-layer LSTM, causal zero padding, RVQ 8 x 1024; random weights). Each chunk of
``--chunk-ms`` is encoded and its new codes decoded at once, as a live call would; the
real-time factor (RTF) is compute time / audio time, median of ``--repeats``. Server case: N
streams in one batch (one session, per-stream state) at 80 ms chunks: streams one core keeps in
real time = N / RTF. Peer: the ``encodec`` package has no streaming; its offline encode +
decode of the same audio (same architecture, random weights) is shown per second of audio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encodec_peer import encodec_24khz_random, encodec_decode, encodec_encode  # noqa: E402

from codec.config import CodecConfig, QuantizerConfig, SEANetConfig  # noqa: E402
from codec.data.synthetic import synthetic_speech  # noqa: E402
from codec.loading import load_model  # noqa: E402
from codec.model import Codec  # noqa: E402
from codec.nn import remove_weight_norm  # noqa: E402
from codec.onnx.export import export_onnx  # noqa: E402
from codec.onnx.runtime import OnnxCodec  # noqa: E402

Step = Callable[[np.ndarray], None]


def encodec_sized() -> Codec:
    """The model of ``experiment=encodec_24k_6kbps`` (random weights)."""
    torch.manual_seed(0)
    config = CodecConfig(
        sample_rate=24000,
        seanet=SEANetConfig(
            dimension=128, n_filters=32, ratios=(8, 5, 4, 2), causal=True, pad_mode="constant"
        ),
        quantizer=QuantizerConfig(groups=1, num_levels=8, codebook_size=1024),
        model_id="encodec_24k_6kbps",
    )
    return Codec(config).eval()


def folded(codec: Codec) -> Codec:
    """A copy with weight norm folded into the weights (the fastest PyTorch inference form)."""
    copy = Codec(codec.config)
    copy.load_state_dict(codec.state_dict())
    return remove_weight_norm(copy.eval())


def torch_streamer(codec: Codec, batch: int) -> tuple[Step, Callable[[], None]]:
    """(push one chunk [B, 1, n], close) for a PyTorch streaming session."""
    session = codec.streaming(batch)
    session.__enter__()

    def push(pcm: np.ndarray) -> None:
        session.decode_chunk(session.encode_chunk(torch.from_numpy(pcm)))

    return push, lambda: session.__exit__(None, None, None)


def onnx_streamer(model: OnnxCodec, batch: int) -> tuple[Step, Callable[[], None]]:
    stream = model.stream(batch)

    def push(pcm: np.ndarray) -> None:
        stream.decode(stream.encode(pcm))

    return push, lambda: None


def rtf(
    make: Callable[[int], tuple[Step, Callable[[], None]]],
    pcm: np.ndarray,
    chunk: int,
    repeats: int,
    rate: int,
) -> float:
    """Median compute time / audio time of streaming ``pcm`` [B, 1, T] in ``chunk`` samples."""
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            push, close = make(pcm.shape[0])
            push(pcm[..., :chunk])  # warm-up: first-call allocations
            start = time.perf_counter()
            for i in range(chunk, pcm.shape[-1], chunk):
                push(pcm[..., i : i + chunk])
            times.append(time.perf_counter() - start)
            close()
    return statistics.median(times) / ((pcm.shape[-1] - chunk) / rate)


def peer_rtf(pcm: np.ndarray, repeats: int) -> float:
    """The encodec package's offline encode + decode time per second of 24 kHz audio."""
    peer = encodec_24khz_random(0)
    wav = torch.from_numpy(pcm)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            encodec_decode(peer, encodec_encode(peer, wav, 6.0))
            times.append(time.perf_counter() - start)
    return statistics.median(times) / (pcm.shape[-1] / 24000)


def engines(codec: Codec, folder: Path) -> dict[str, Callable[[int], tuple[Step, Callable]]]:
    fast = folded(codec)
    fp32, int8 = OnnxCodec(folder), OnnxCodec(folder, int8=True)
    return {
        "PyTorch fp32": lambda b: torch_streamer(fast, b),
        "onnxruntime fp32": lambda b: onnx_streamer(fp32, b),
        "onnxruntime int8": lambda b: onnx_streamer(int8, b),
    }


def measure(name: str, codec: Codec, args: argparse.Namespace, root: Path) -> list[str]:
    """Table rows for one model: single stream at 20 / 80 ms, then the server case."""
    folder = export_onnx(codec, root / name, int8=True).folder
    rate = codec.sample_rate
    audio = synthetic_speech(args.seconds, rate, seed=1).reshape(1, 1, -1).numpy()
    rows = []
    for label, make in engines(codec, folder).items():
        cells = []
        for ms in (20, 80):
            cells.append(rtf(make, audio, rate * ms // 1000, args.repeats, rate))
        server = []
        for n in args.streams:
            batch = np.repeat(audio, n, axis=0)
            server.append(n / rtf(make, batch, rate * 80 // 1000, args.repeats, rate))
        rows.append(
            f"| {name} | {label} | {cells[0]:.3f} | {cells[1]:.3f} | "
            + " | ".join(f"{s:.0f}" for s in server)
            + " |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0, help="audio per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 8, 32], help="server batches")
    args = p.parse_args()
    torch.set_num_threads(1)
    streams = " | ".join(f"streams/core, N={n}" for n in args.streams)
    print(f"| model | engine | RTF 20 ms | RTF 80 ms | {streams} |")
    print("|---|---|---|---|" + "---|" * len(args.streams))
    with tempfile.TemporaryDirectory() as tmp:
        measure("speech-16k-6kbps (16 kHz)", load_model("speech-16k-6kbps"), args, Path(tmp))
        measure("EnCodec-sized 24 kHz", encodec_sized(), args, Path(tmp))
    audio = synthetic_speech(args.seconds, 24000, seed=1).reshape(1, 1, -1).numpy()
    print(
        f"\nencodec package, offline encode + decode, 24 kHz 6 kbps: RTF "
        f"{peer_rtf(audio, args.repeats):.3f} (no streaming API)"
    )


if __name__ == "__main__":
    main()
