"""Stream a wav file through an exported codec with onnxruntime: numpy, soundfile and
onnxruntime only, no torch (what a server or an app without PyTorch would run).

    codec export-onnx -o exported/                     # once, with PyTorch
    python examples/onnx_stream.py exported/ speech.wav -o decoded.wav --codes codes.npy

The wav is read in chunks of ``--chunk-ms`` as a live source would deliver them; each chunk is
encoded by the encoder-step graph and the new codes decoded by the decoder-step graph at once.
Prints the real-time factor (compute time / audio time) and the per-chunk latency.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import soundfile as sf

from codec.onnx.runtime import OnnxCodec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="folder written by codec export-onnx")
    p.add_argument("input", help="wav/flac file at the model's sample rate")
    p.add_argument("-o", "--output", help="decoded audio (wav)")
    p.add_argument("--codes", help="codes [1, K, frames] as a .npy file")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="chunk size (20 ms)")
    p.add_argument("--int8", action="store_true", help="use the int8 graphs")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (1)")
    args = p.parse_args(argv)
    try:
        model = OnnxCodec(args.folder, threads=args.threads, int8=args.int8)
        pcm, rate = sf.read(args.input, dtype="float32", always_2d=True)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if rate != model.info["sample_rate"]:
        need = model.info["sample_rate"]
        print(f"error: {args.input}: {rate} Hz, the model needs {need} Hz", file=sys.stderr)
        return 1
    mono = pcm.mean(axis=1)[None, None]  # [1, 1, T]
    chunk = max(1, round(rate * args.chunk_ms / 1000))
    stream = model.stream()
    codes, audio, latencies = [], [], []
    for start in range(0, mono.shape[-1], chunk):
        began = time.perf_counter()
        new = stream.encode(mono[..., start : start + chunk])
        audio.append(stream.decode(new))
        latencies.append(time.perf_counter() - began)
        codes.append(new)
    codes.append(stream.flush())
    audio.append(stream.decode(codes[-1]))
    all_codes = np.concatenate(codes, axis=-1)
    decoded = np.concatenate(audio, axis=-1)[0, 0, : mono.shape[-1]]
    seconds = mono.shape[-1] / rate
    ms = np.array(latencies) * 1000
    print(
        f"{seconds:.2f} s of audio in {len(latencies)} chunks of {args.chunk_ms:g} ms: "
        f"RTF {sum(latencies) / seconds:.3f}, latency p50 {np.median(ms):.2f} ms, "
        f"max {ms.max():.2f} ms, {all_codes.shape[-1]} frames x {all_codes.shape[1]} codebooks"
    )
    if args.output:
        sf.write(args.output, decoded, rate)
    if args.codes:
        np.save(args.codes, all_codes, allow_pickle=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
