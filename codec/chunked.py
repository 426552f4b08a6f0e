"""Chunk-wise audio and token processing in bounded memory.

Reading long files block by block (resampled as a stream), encoding them through a streaming
session, decoding long token files chunk by chunk, writing audio as it comes, and raw PCM from a
byte stream. Every item is zero-padded to whole frames before its last frame is encoded, the
same rule as :func:`encode_padded` for batches, so all paths give the same tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor

from codec.audio import AudioError, AudioInfo, resampled_length
from codec.fileio import atomic_path
from codec.model import Codec
from codec.session import StreamingSession
from codec.tokens import Tokens

AUDIO_OUT = (".wav", ".flac", ".ogg")
"""Suffixes audio can be written to."""


_MIN_BATCH_FRAMES = 16
"""Shorter items of a reflect/replicate-padded model are encoded alone (see encode_padded)."""


@torch.no_grad()
def encode_padded(codec: Codec, wavs: Sequence[Tensor], num_codebooks: int | None = None) -> Tokens:
    """Encode ``[C, n_i]`` items at the model rate as one batch, each zero-padded to whole
    frames first, so an item's codes never depend on its batch (or on the way it is read:
    :func:`encode_blocks` pads the same way). ``num_samples`` keeps the true lengths.

    A causal model fed whole frames computes each frame from the item's own past only, so
    the batch runs in one forward pass (any padding mode; with reflect padding, items of
    fewer than 16 frames are encoded alone: their left reflection could reach the padding).
    A non-causal model goes through ``Codec.encode``, which encodes items of unequal length
    one by one."""
    hop = codec.hop_length
    lengths = torch.tensor([w.shape[-1] for w in wavs])
    frames = -(-lengths // hop)
    batch = torch.zeros(len(wavs), wavs[0].shape[0], int(frames.max()) * hop)
    for i, wav in enumerate(wavs):
        batch[i, :, : wav.shape[-1]] = wav
    seanet = codec.config.seanet
    short = seanet.pad_mode != "constant" and int(frames.min()) < _MIN_BATCH_FRAMES
    if seanet.causal and (len(wavs) == 1 or not short):
        k = codec._check_num_codebooks(num_codebooks)
        codes = codec.quantizer.encode(codec.encoder(batch.to(codec.device)), num_codebooks=k)
        return codec.make_tokens(codes, frames, lengths)
    tokens = codec.encode(batch, codec.sample_rate, frames * hop, num_codebooks, False)
    return replace(tokens, num_samples=lengths)


def read_blocks(path: Path, info: AudioInfo, target_rate: int, seconds: float) -> Iterator[Tensor]:
    """Float32 blocks ``[C, n]`` of ``path`` at ``target_rate``, resampled as a stream."""
    stream = None
    if info.sample_rate != target_rate:
        stream = soxr.ResampleStream(info.sample_rate, target_rate, info.channels, dtype="float32")
    size = max(1, int(seconds * info.sample_rate))
    taken = given = 0
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                data = handle.read(size, dtype="float32", always_2d=True)
                last = data.shape[0] < size
                taken += data.shape[0]
                if not np.isfinite(data).all():
                    raise AudioError(f"{path}: audio contains NaN or infinite samples")
                if stream is not None:
                    data = stream.resample_chunk(data, last=last)
                    if last:  # the same length as offline resampling (ceil)
                        want = resampled_length(taken, info.sample_rate, target_rate) - given
                        data = np.pad(data[:want], ((0, max(0, want - data.shape[0])), (0, 0)))
                given += data.shape[0]
                if data.shape[0]:
                    yield torch.from_numpy(np.ascontiguousarray(data.T))
                if last:
                    return
    except sf.LibsndfileError as exc:
        raise AudioError(f"{path}: unreadable audio ({exc})") from None


def frame_padding(codec: Codec, samples: int) -> Tensor:
    """Zeros ``[1, C, p]`` that complete the last frame of a ``samples``-long stream."""
    return torch.zeros(1, codec.channels, -samples % codec.hop_length, device=codec.device)


def encode_blocks(
    codec: Codec, path: Path, info: AudioInfo, num_codebooks: int, block_seconds: float = 10.0
) -> Tokens:
    """Encode a (long) file block by block with a streaming session: memory stays bounded
    by the block size, and the tokens equal offline encoding of the same samples."""
    codes: list[Tensor] = []
    samples = 0
    with StreamingSession(codec, 1, num_codebooks) as session:
        for block in read_blocks(path, info, codec.sample_rate, block_seconds):
            samples += block.shape[-1]
            codes.append(session.encode_chunk(block[None]).codes)
        codes.append(session.encode_chunk(frame_padding(codec, samples)).codes)
        codes.append(session.flush().tokens.codes)
    if samples < codec.hop_length:
        raise AudioError(f"{path}: too short ({samples} samples)")
    frames = -(-samples // codec.hop_length)
    return codec.make_tokens(
        torch.cat(codes, -1)[..., :frames], torch.tensor([frames]), torch.tensor([samples])
    )


def decode_blocks(codec: Codec, tokens: Tokens, frames: int = 500) -> Iterator[Tensor]:
    """Decode ``[1, K, T]`` tokens chunk by chunk (causal models): bounded memory."""
    total, emitted = int(tokens.num_samples[0]), 0
    with StreamingSession(codec, 1, tokens.num_codebooks) as session:
        for start in range(0, tokens.num_frames, frames):
            codes = tokens.codes[..., start : start + frames]
            n = torch.tensor([codes.shape[-1]])
            audio = session.decode_chunk(codec.make_tokens(codes, n, n * codec.hop_length))
            audio = audio[0, :, : max(0, total - emitted)]
            emitted += audio.shape[-1]
            yield audio
        tail = session.flush().audio[0, :, : max(0, total - emitted)]
        yield tail


def write_audio(
    path: Path, blocks: Iterable[Tensor], sample_rate: int, force: bool, channels: int = 1
) -> float:
    """Write ``[C, n]`` blocks atomically as 16-bit PCM; returns the clipped fraction."""
    if path.suffix.lower() not in AUDIO_OUT:
        raise ValueError(f"unknown audio format {path.suffix!r} (use {', '.join(AUDIO_OUT)})")
    clipped = count = 0
    with atomic_path(path, force=force) as tmp:
        subtype = "VORBIS" if path.suffix.lower() == ".ogg" else "PCM_16"
        with open_writer(tmp, sample_rate, channels, subtype) as handle:
            for block in blocks:
                data = block.detach().cpu().float().numpy().T
                clipped += int((np.abs(data) > 1).sum())
                count += data.size
                handle.write(np.clip(data, -1.0, 1.0))
    return clipped / max(count, 1)


def open_writer(path: Path, sample_rate: int, channels: int, subtype: str) -> sf.SoundFile:
    """A soundfile writer (format from the suffix) for audio written block by block."""
    return sf.SoundFile(str(path), "w", sample_rate, channels, subtype=subtype)


def write_block(writer: sf.SoundFile, audio: Tensor, room: int) -> int:
    """Write at most ``room`` samples of ``audio`` [1, C, n] (clipped); returns the count."""
    data = audio[0, :, : max(0, room)].cpu().numpy().T
    writer.write(np.clip(data, -1.0, 1.0))
    return int(data.shape[0])


def raw_chunks(stream: Any, size: int, channels: int, fmt: str) -> Iterator[np.ndarray]:
    """Interleaved little-endian PCM (``s16le`` / ``f32le``) from a binary stream as float32
    ``[n, channels]`` blocks of ``size`` samples (a trailing partial sample is dropped)."""
    dtype = np.dtype("<i2") if fmt == "s16le" else np.dtype("<f4")
    frame_bytes = dtype.itemsize * channels
    pending = b""
    while True:
        data = stream.read(size * frame_bytes - len(pending))
        if not data:
            break
        pending += data
        usable = len(pending) - len(pending) % frame_bytes
        if usable == 0:
            continue
        block = np.frombuffer(pending[:usable], dtype=dtype).reshape(-1, channels)
        pending = pending[usable:]
        block = block.astype(np.float32) / 32768.0 if fmt == "s16le" else block.astype(np.float32)
        if not np.isfinite(block).all():
            raise AudioError("stdin: stream contains NaN or infinite samples")
        yield block


def resample_blocks(
    blocks: Iterator[np.ndarray], rate: int, target: int, channels: int
) -> Iterator[Tensor]:
    """``[n, C]`` numpy blocks at ``rate`` -> ``[C, m]`` tensors at ``target`` (soxr stream)."""
    stream = (
        soxr.ResampleStream(rate, target, channels, dtype="float32") if rate != target else None
    )
    for block in blocks:
        out = stream.resample_chunk(block) if stream is not None else block
        if out.shape[0]:
            yield torch.from_numpy(np.ascontiguousarray(out.T))
    if stream is not None:
        last = stream.resample_chunk(np.zeros((0, channels), np.float32), last=True)
        if last.shape[0]:
            yield torch.from_numpy(np.ascontiguousarray(last.T))


@dataclass
class StreamResult:
    """What :func:`stream_codec` measured: tokens, pcm samples pushed, per-chunk seconds."""

    tokens: Tokens
    samples: int
    latencies: list[float]


def stream_codec(
    codec: Codec,
    chunks: Iterable[Tensor],
    num_codebooks: int | None = None,
    decode: bool = True,
    on_audio: Callable[[Tensor], object] | None = None,
) -> StreamResult:
    """Push ``[C, n]`` chunks through a streaming session as a live source would; time each
    chunk (encode, plus decode when ``decode``) and hand decoded audio ``[1, C, m]`` to
    ``on_audio`` as it comes, trimmed to the samples pushed. The tokens equal offline ones."""
    latencies: list[float] = []
    codes: list[Tensor] = []
    samples = written = 0

    def emit(audio: Tensor) -> None:
        nonlocal written
        audio = audio[..., : max(0, samples - written)]
        written += audio.shape[-1]
        if on_audio is not None and audio.shape[-1]:
            on_audio(audio)

    with StreamingSession(codec, 1, num_codebooks) as session:
        for chunk in chunks:
            start = time.perf_counter()
            new = session.encode_chunk(chunk[None])
            audio = session.decode_chunk(new) if decode else None
            latencies.append(time.perf_counter() - start)
            samples += chunk.shape[-1]
            codes.append(new.codes)
            if audio is not None:
                emit(audio)
        last = session.encode_chunk(frame_padding(codec, samples))
        codes.append(last.codes)
        if decode:
            emit(session.decode_chunk(last))
        tail = session.flush()
        codes.append(tail.tokens.codes)
        if decode:
            emit(tail.audio)
    if samples < codec.hop_length:
        raise AudioError(f"stream too short: {samples} samples, one frame needs {codec.hop_length}")
    frames = -(-samples // codec.hop_length)
    tokens = codec.make_tokens(
        torch.cat(codes, -1)[..., :frames], torch.tensor([frames]), torch.tensor([samples])
    )
    return StreamResult(tokens, samples, latencies)
