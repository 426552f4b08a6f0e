"""Streaming a causal :class:`~codec.model.Codec`: the session, live sources and long files.

``encode_chunk`` accepts pcm of any length and returns the frames completed so far;
``decode_chunk`` turns tokens into audio as soon as the decoder can emit it; ``flush`` pads
the tail exactly as offline encoding does, so the concatenated tokens equal ``codec.encode``
and the concatenated audio equals ``codec.decode`` of them. With zero padding
(``pad_mode="constant"``) the algorithmic latency is one frame (``hop_length`` samples);
with reflect padding (converted EnCodec) the first frames wait for a little right context.
``reset(mask)`` restarts some streams of a batch while the others go on (zero padding only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from codec.audio import AudioError, AudioInfo, convert_channels, read_blocks
from codec.nn.streaming import FrameBuffer
from codec.tokens import Tokens

if TYPE_CHECKING:
    from codec.model import Codec


@dataclass
class StreamTail:
    """What ``flush`` returns: the last frames and the last audio samples ``[B, C, n]``."""

    tokens: Tokens
    audio: Tensor


class StreamingSession:
    """``with codec.streaming(batch_size) as s:`` — see the module docstring.

    Uses only the codec's public frame API (``open_streams``, ``encode_frames``,
    ``decode_codes``, ``reset_streams``); its own state is the pcm not yet a whole frame.
    """

    def __init__(self, codec: Codec, batch_size: int = 1, num_codebooks: int | None = None) -> None:
        if not codec.config.seanet.causal:
            raise ValueError(
                "non-causal model cannot stream: its frames depend on future audio; "
                "use codec.encode on whole files (or a causal model)"
            )
        self.codec = codec
        self.batch_size = batch_size
        self.num_codebooks = codec.check_num_codebooks(num_codebooks)
        self._stack: ExitStack | None = None
        self._fingerprint = ""
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.buffer = FrameBuffer(self.codec.hop_length)
        self.samples_in = 0
        self.frames_out = 0
        self.audio_out = 0

    def __enter__(self) -> StreamingSession:
        if self._stack is not None:
            raise RuntimeError("this streaming session is already open")
        stack = ExitStack()
        stack.enter_context(self.codec.open_streams(self.batch_size))
        self._stack = stack
        self._reset_counters()
        # Once per stream: hashing the weights per chunk cost ~15 % of 1-frame streaming.
        self._fingerprint = self.codec.fingerprint
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def _check_open(self) -> None:
        if self._stack is None:
            raise RuntimeError("use the session inside `with codec.streaming(...) as s:`")

    def _as_chunk(self, pcm: Tensor) -> Tensor:
        if not isinstance(pcm, Tensor) or not pcm.is_floating_point():
            raise ValueError("pcm chunks must be floating-point torch tensors in [-1, 1]")
        while pcm.dim() < 3:
            pcm = pcm.unsqueeze(0)
        if pcm.dim() != 3 or pcm.shape[0] != self.batch_size:
            raise ValueError(
                f"chunk must be [{self.batch_size}, C, n], [C, n] or [n]; got {tuple(pcm.shape)}"
            )
        if pcm.numel() and not bool(torch.isfinite(pcm).all()):
            raise ValueError("pcm chunk contains NaN or infinite values")
        return convert_channels(pcm.float(), self.codec.channels).to(self.codec.device)

    @torch.inference_mode()
    def encode_chunk(self, pcm: Tensor) -> Tokens:
        """pcm ``[B, C, n]`` (any n >= 0) at the model rate -> Tokens with the new frames."""
        self._check_open()
        chunk = self._as_chunk(pcm)
        self.samples_in += chunk.shape[-1]
        whole = self.buffer.push(chunk)
        return self._tokens(self.codec.encode_frames(whole, self.num_codebooks))

    def _tokens(self, codes: Tensor) -> Tokens:
        n = codes.shape[-1]
        self.frames_out += n
        frames = torch.full((self.batch_size,), n, dtype=torch.long)
        return self.codec.make_tokens(
            codes, frames, frames * self.codec.hop_length, self._fingerprint
        )

    @torch.inference_mode()
    def decode_chunk(self, tokens: Tokens) -> Tensor:
        """New frames (e.g. from ``encode_chunk``) -> the audio now complete ``[B, C, m]``."""
        self._check_open()
        audio = self.codec.decode_codes(self.codec.check_tokens(tokens))
        self.audio_out += audio.shape[-1]
        return audio

    @torch.inference_mode()
    def flush(self) -> StreamTail:
        """End the stream: the last frames (tail padded as offline) and the last audio,
        trimmed so the total audio length equals the total pcm pushed (when encoding)."""
        self._check_open()
        rest = self.buffer.flush()
        if rest is None:
            rest = torch.zeros(self.batch_size, self.codec.channels, 0, device=self.codec.device)
        # Offline encoding zero-pads the input to whole frames; do the same to the tail.
        pad = (-rest.shape[-1]) % self.codec.hop_length
        rest = torch.nn.functional.pad(rest, (0, pad))
        tokens = self._tokens(self.codec.encode_frames(rest, self.num_codebooks, final=True))
        audio = self.codec.decode_codes(tokens.codes.to(self.codec.device).long(), final=True)
        if self.samples_in:
            keep = max(0, self.samples_in - self.audio_out)
            audio = audio[..., :keep]
        self._reset_counters()
        return StreamTail(tokens=tokens, audio=audio)

    def reset(self, mask: Tensor) -> None:
        """Give the items where ``mask`` [B] (bool) is True a fresh stream; the others go on.

        For servers running many streams in one batch. Needs a zero-padded model
        (``pad_mode="constant"``) and a whole number of frames pushed so far (no pcm held
        back): then a reset item's next outputs equal those of a new single stream.
        """
        self._check_open()
        mask = torch.as_tensor(mask, dtype=torch.bool).flatten()
        if mask.shape[0] != self.batch_size:
            raise ValueError(f"mask has {mask.shape[0]} items for {self.batch_size} streams")
        if self.buffer.pending:
            raise ValueError(
                f"reset between whole frames: {self.buffer.pending} samples are held back "
                f"(push chunks of a multiple of {self.codec.hop_length} samples)"
            )
        self.codec.reset_streams(mask.to(self.codec.device))


def frame_padding(codec: Codec, samples: int) -> Tensor:
    """Zeros ``[1, C, p]`` that complete the last frame of a ``samples``-long stream."""
    return torch.zeros(1, codec.channels, -samples % codec.hop_length, device=codec.device)


def stream_tokens(codec: Codec, codes: list[Tensor], samples: int, too_short: str) -> Tokens:
    """One stream's code pieces ``[1, K, n_i]`` -> Tokens of the ``ceil(samples / hop)``
    frames offline encoding gives; AudioError ``too_short`` under one frame."""
    if samples < codec.hop_length:
        raise AudioError(too_short)
    frames = -(-samples // codec.hop_length)
    return codec.make_tokens(
        torch.cat(codes, -1)[..., :frames], torch.tensor([frames]), torch.tensor([samples])
    )


def encode_blocks(
    codec: Codec,
    path: Path,
    info: AudioInfo,
    num_codebooks: int,
    block_seconds: float = 10.0,
    on_block: Callable[[float], object] | None = None,
) -> Tokens:
    """Encode a (long) file block by block with a streaming session: memory stays bounded
    by the block size, and the tokens equal offline encoding of the same samples.
    ``on_block(seconds)`` is told the audio seconds of each block encoded (progress)."""
    codes: list[Tensor] = []
    samples = 0
    with StreamingSession(codec, 1, num_codebooks) as session:
        for block in read_blocks(path, info, codec.sample_rate, block_seconds):
            samples += block.shape[-1]
            codes.append(session.encode_chunk(block[None]).codes)
            if on_block is not None:
                on_block(block.shape[-1] / codec.sample_rate)
        codes.append(session.encode_chunk(frame_padding(codec, samples)).codes)
        codes.append(session.flush().tokens.codes)
    return stream_tokens(codec, codes, samples, f"{path}: too short ({samples} samples)")


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
    short = f"stream too short: {samples} samples, one frame needs {codec.hop_length}"
    return StreamResult(stream_tokens(codec, codes, samples, short), samples, latencies)
