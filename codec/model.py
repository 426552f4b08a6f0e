"""The codec: encoder -> (G)RVQ -> decoder (SEANet or HiFi-GAN), offline and streaming paths."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from codec.audio import convert_channels, resample
from codec.builders import decoder_from_config, encoder_from_config, quantizer_from_config
from codec.config import PRESETS, CodecConfig
from codec.convert import CONVERT_HINT, converted_weights
from codec.inputs import (
    as_batch,
    check_lengths,
    check_waveform,
    frame_count,
    frame_mask,
    pad_to_frames,
)
from codec.nn.conv import StreamingConv1d
from codec.nn.streaming import flush, reset_streaming, streaming
from codec.pretrained import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    CardInfo,
    FingerprintCache,
    check_fingerprint,
    load_state,
    load_weights,
    push_to_hub,
    read_config,
    resolve_folder,
    save_pretrained,
)
from codec.quantize import QuantizerOutput
from codec.streaming import StreamingSession
from codec.tokens import Tokens
from codec.vocos.decoder import decode_with_pitch

# On CPU, inference runs the batch in groups whose widest activation stays under this size:
# glibc serves up to 32 MB from its heap, larger temporaries get fresh pages on every call,
# which costs more than the arithmetic (batch 8 x 10 s ran 1.4x slower than 8 single items).
CPU_GROUP_BYTES = 32 * 2**20


@dataclass
class CodecOutput:
    """Training forward result.

    audio [B, C, T] (same length as the input), latent [B, D, F], frame lengths [B],
    the quantizer's typed output (quantized, codes, losses, metrics), and the f0 in Hz [B, F]
    a harmonic decoder predicted (``vocos.harmonic``; else None).
    """

    audio: Tensor
    latent: Tensor
    frame_lengths: Tensor
    vq: QuantizerOutput
    f0: Tensor | None = None


class Codec(nn.Module):
    """SEANet codec. Inputs are ``[B, C, T]`` waveforms at ``sample_rate``."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder_from_config(config)
        self.quantizer = quantizer_from_config(config.latent_dim, config.quantizer)
        self.decoder = decoder_from_config(config)
        self._fingerprint = FingerprintCache()

    # ---------------------------------------------------------------- properties
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def frame_rate(self) -> float:
        return self.config.frame_rate

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def num_codebooks(self) -> int:
        return self.config.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        return self.config.quantizer.codebook_size

    @property
    def groups(self) -> int:
        return self.config.quantizer.groups

    @property
    def fingerprint(self) -> str:
        """Content hash of this model's weights and config (``pretrained.fingerprint``), cached
        until a tensor of the state dict changes (any in-place update bumps its version)."""
        return self._fingerprint.get(self.state_dict(keep_vars=True), self.config)

    @property
    def device(self) -> torch.device:
        """Where the parameters live (inputs are moved there)."""
        return next(self.parameters()).device

    def bitrate(self, num_codebooks: int | None = None) -> float:
        """Bits per second at ``num_codebooks`` (default: all)."""
        k = self.num_codebooks if num_codebooks is None else num_codebooks
        return self.frame_rate * k * math.log2(self.codebook_size)

    # ---------------------------------------------------------------- training
    def forward(
        self, wav: Tensor, lengths: Tensor | None = None, num_codebooks: int | None = None
    ) -> CodecOutput:
        """wav [B, C, T] at ``sample_rate``; ``lengths`` [B] valid samples. Returns audio [B, C, T]."""
        wav = check_waveform(wav, self.channels)
        latent = self.encoder(wav)
        frame_lengths = self._frame_lengths(wav, lengths)
        mask = frame_mask(frame_lengths, latent.shape[-1])
        vq = self.quantizer(latent, mask=mask, num_codebooks=num_codebooks)
        audio, f0 = decode_with_pitch(self.decoder, vq.quantized)
        audio = audio[..., : wav.shape[-1]]
        return CodecOutput(audio=audio, latent=latent, frame_lengths=frame_lengths, vq=vq, f0=f0)

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def encode(
        self,
        wav: Tensor,
        sample_rate: int,
        lengths: Tensor | None = None,
        num_codebooks: int | None = None,
        resample_input: bool = True,
    ) -> Tokens:
        """Audio ``[B, C, T]``, ``[C, T]`` or ``[T]`` at ``sample_rate`` -> :class:`Tokens`.

        Input at another rate is resampled (soxr) when ``resample_input``; channels are
        averaged to mono (or a mono input repeated) to match the model. ``lengths`` [B] are
        valid samples per item at the input rate. Batched codes equal each item encoded
        alone: every item is zero-padded to a whole number of frames (no layer pads its tail
        on its own, which also makes streaming equal offline); a non-causal model encodes
        items of unequal length one by one; and with reflect padding, an item no longer than
        :attr:`lookahead` samples goes alone (the only batching rule, see ``encode_many``).
        """
        wav, lengths = self._prepare(wav, sample_rate, lengths, resample_input)
        k = self.check_num_codebooks(num_codebooks)
        frames = frame_count(lengths, self.hop_length)
        wav = pad_to_frames(wav, lengths, frames, self.hop_length)
        if not self.config.causal and bool((frames < frames.max()).any()):
            # Non-causal frames see the future: padding after a shorter item would change them.
            alone = range(len(frames))
            return self.make_tokens(self._encode_items(wav, frames, k, alone), frames, lengths)
        codes = self._encode_batch(wav, k)
        # Reflect padding makes a layer's first outputs peek a few inputs ahead; items too short
        # to hold that look-ahead would see the next item's padding, so they go alone.
        short = [
            i
            for i, n in enumerate(frames)
            if n < frames.max() and n * self.hop_length <= self.lookahead
        ]
        if short:
            codes[short] = self._encode_items(wav, frames, k, short)
        return self.make_tokens(codes, frames, lengths)

    def encode_many(self, wavs: Sequence[Tensor], num_codebooks: int | None = None) -> Tokens:
        """Encode items ``[C, n_i]`` already at the model rate and channel count as one batch
        (zero-padded, with their lengths): the same codes as each item encoded alone, by the
        rules of :meth:`encode` (short reflect-padded items: :attr:`lookahead`)."""
        if not wavs:
            raise ValueError("encode_many needs at least one item")
        lengths = torch.tensor([w.shape[-1] for w in wavs])
        batch = wavs[0].new_zeros(len(wavs), wavs[0].shape[0], int(lengths.max()))
        for i, wav in enumerate(wavs):
            batch[i, :, : wav.shape[-1]] = wav
        return self.encode(batch, self.sample_rate, lengths, num_codebooks, resample_input=False)

    def _encode_items(self, wav: Tensor, frames: Tensor, k: int, which: Sequence[int]) -> Tensor:
        """Encode items ``which`` one by one, each at its own length; [len(which), K, max F]."""
        width = int(frames.max())
        items = [
            self._encode_batch(wav[i : i + 1, :, : int(frames[i]) * self.hop_length], k)
            for i in which
        ]
        return torch.cat([nn.functional.pad(c, (0, width - c.shape[-1])) for c in items])

    @functools.cached_property
    def lookahead(self) -> int:
        """Waveform samples the encoder's first frame can depend on beyond sample 0: the
        reflect padding of every conv, in input samples (0 with zero padding)."""
        total, rate = 0, 1
        for module in self.encoder.modules():
            if isinstance(module, StreamingConv1d):
                if module.pad_mode == "reflect":
                    total += module.left * rate + rate - 1
                rate *= module.stride
        return total

    def _encode_batch(self, wav: Tensor, num_codebooks: int) -> Tensor:
        groups = self.batch_groups(wav.shape[0], wav.shape[-1])
        return torch.cat([self.encode_frames(wav[g], num_codebooks) for g in groups])

    def batch_groups(self, batch: int, samples: int) -> list[slice]:
        """Slices of the batch that run together (all of it on accelerators; see CPU_GROUP_BYTES)."""
        if self.device.type != "cpu":
            return [slice(0, batch)]
        widest = samples * self.config.seanet.n_filters * 4  # float32 at the waveform rate
        size = max(1, CPU_GROUP_BYTES // max(widest, 1))
        if batch <= size:
            return [slice(0, batch)]
        return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]

    def make_tokens(
        self, codes: Tensor, frames: Tensor, num_samples: Tensor, fingerprint: str = ""
    ) -> Tokens:
        """Codes [B, K, F] with valid ``frames`` [B] and ``num_samples`` [B] -> Tokens of this
        model (on cpu); ``fingerprint``: this model's, when the caller already has it."""
        return Tokens(
            codes=codes.cpu(),
            lengths=frames.long().cpu(),
            num_samples=num_samples.long().cpu(),
            sample_rate=self.sample_rate,
            frame_rate=self.frame_rate,
            codebook_size=self.codebook_size,
            groups=self.groups,
            model_id=self.config.model_id,
            model_fingerprint=fingerprint or self.fingerprint,
        )

    @torch.no_grad()
    def decode(self, tokens: Tokens) -> Tensor:
        """Tokens -> audio [B, C, T] at ``sample_rate``, T = max valid samples; padding zeroed."""
        codes = self.check_tokens(tokens)
        groups = self.batch_groups(codes.shape[0], codes.shape[-1] * self.hop_length)
        audio = torch.cat([self.decode_codes(codes[g]) for g in groups])
        width = int(tokens.num_samples.max()) if tokens.num_samples.numel() else 0
        audio = audio[..., :width]
        mask = frame_mask(tokens.num_samples.to(audio.device), audio.shape[-1])
        return audio * mask[:, None, :].to(audio.dtype)

    def check_tokens(self, tokens: Tokens) -> Tensor:
        """Validate that ``tokens`` belong to this model; returns codes on the model's device."""
        if tokens.codebook_size != self.codebook_size or tokens.groups != self.groups:
            raise ValueError(
                f"tokens from another model: codebook_size={tokens.codebook_size}, "
                f"groups={tokens.groups}; this model has {self.codebook_size}, {self.groups}"
            )
        if (
            tokens.sample_rate != self.sample_rate
            or abs(tokens.frame_rate - self.frame_rate) > 1e-6
        ):
            raise ValueError(
                f"tokens from another model: {tokens.sample_rate} Hz at {tokens.frame_rate} frames/s; "
                f"this model is {self.sample_rate} Hz at {self.frame_rate} frames/s"
            )
        self.check_num_codebooks(tokens.num_codebooks)
        return tokens.codes.to(self.device).long()  # range checked by Tokens; lookups need int64

    # ---------------------------------------------------------------- frames and streams
    def streaming(self, batch_size: int = 1, num_codebooks: int | None = None) -> StreamingSession:
        """A streaming session: ``with codec.streaming(1) as s: s.encode_chunk(pcm)``.

        ``num_codebooks`` chooses the bitrate (default: all codebooks). The session runs on
        the frame API below, which servers with their own buffering can use directly.
        """
        self.check_streamable()
        return StreamingSession(self, batch_size, num_codebooks)

    def encode_frames(self, wav: Tensor, num_codebooks: int, final: bool = False) -> Tensor:
        """Waveform [B, C, k * hop] on the model's device -> codes [B, K, k], no checks.

        Inside :meth:`open_streams` the encoder keeps its history between calls: the codes
        are the frames now complete, and ``final`` ends the stream (tail padded as offline).
        """
        latent = flush(self.encoder, wav) if final else self.encoder(wav)
        return self.quantizer.encode(latent, num_codebooks=num_codebooks)

    def decode_codes(self, codes: Tensor, final: bool = False) -> Tensor:
        """Codes [B, K, F] on the model's device -> audio [B, C, F * hop], no checks.

        Inside :meth:`open_streams`: the audio now complete; ``final`` ends the stream.
        """
        quantized = self.quantizer.decode(codes)
        return flush(self.decoder, quantized) if final else self.decoder(quantized)

    @contextmanager
    def open_streams(self, batch_size: int) -> Iterator[Codec]:
        """Streaming state for ``batch_size`` streams in the encoder and the decoder, cleared
        on exit; raises ValueError for a non-causal model, RuntimeError if already open."""
        self.check_streamable()
        with streaming(self.encoder, batch_size), streaming(self.decoder, batch_size):
            yield self

    def reset_streams(self, mask: Tensor) -> None:
        """Inside :meth:`open_streams`, between whole frames: the items where ``mask`` [B] is
        True start a fresh stream, the others continue (zero-padded models only)."""
        # One tree, so both halves are checked before either changes.
        reset_streaming(nn.ModuleList([self.encoder, self.decoder]), mask)

    def check_streamable(self) -> None:
        """ValueError, in one line, if this architecture has no streaming path at all."""
        if self.config.architecture != "seanet":
            raise ValueError(
                f"architecture={self.config.architecture} cannot stream (only seanet models "
                "can); use codec.encode / codec.decode on whole files"
            )

    # ---------------------------------------------------------------- helpers
    def _frame_lengths(self, wav: Tensor, lengths: Tensor | None) -> Tensor:
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[-1], device=wav.device)
        return frame_count(lengths, self.hop_length)

    def check_num_codebooks(self, num_codebooks: int | None) -> int:
        """``num_codebooks`` (default: all) checked against this model; ValueError if bad."""
        k = self.num_codebooks if num_codebooks is None else num_codebooks
        if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= self.num_codebooks:
            raise ValueError(f"num_codebooks must be in [1, {self.num_codebooks}], got {k!r}")
        if k % self.groups:
            raise ValueError(f"num_codebooks must be a multiple of groups={self.groups}, got {k}")
        return k

    def _prepare(
        self, wav: Tensor, sample_rate: int, lengths: Tensor | None, resample_input: bool
    ) -> tuple[Tensor, Tensor]:
        wav = as_batch(wav)
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[-1], dtype=torch.long)
        lengths = check_lengths(lengths, wav)
        if sample_rate != self.sample_rate:
            if not resample_input:
                raise ValueError(
                    f"input is {sample_rate} Hz but the model expects {self.sample_rate} Hz "
                    "(pass resample_input=True to convert)"
                )
            wav = resample(wav, sample_rate, self.sample_rate)
            lengths = (lengths * self.sample_rate + sample_rate - 1) // sample_rate
            lengths = lengths.clamp(max=wav.shape[-1])
        if int(lengths.min()) < self.hop_length:
            raise ValueError(
                f"input too short: {int(lengths.min())} samples, at least one frame "
                f"({self.hop_length} samples at {self.sample_rate} Hz) is needed"
            )
        wav = convert_channels(wav, self.channels)
        return wav.to(self.device), lengths

    # ---------------------------------------------------------------- save / load
    def save_pretrained(self, directory: str | os.PathLike[str], force: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` + ``README.md`` into ``directory``."""
        return save_pretrained(self, self.config, Path(directory), force)

    def push_to_hub(
        self,
        repo_id: str,
        info: CardInfo | None = None,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str = "Upload codec model",
    ) -> str:
        """Upload ``config.json`` + ``model.safetensors`` + a model card (``info``: licence,
        datasets, training data) to the Hugging Face Hub repo ``repo_id``; returns the commit URL."""
        return push_to_hub(self, self.config, repo_id, info, private, token, commit_message)

    @classmethod
    def from_pretrained(
        cls,
        name_or_dir: str | os.PathLike[str],
        path: str | None = None,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
    ) -> Codec:
        """Load an exported folder, a Hugging Face Hub repo ``owner/name`` (at ``revision``;
        an existing local folder of that name wins), or a named preset converted from ``path``
        (EnCodec)."""
        if str(name_or_dir) in PRESETS and not Path(name_or_dir).exists():
            config, state = converted_weights(str(name_or_dir), path)
            model = cls(config)
            load_state(model, state, str(path), hint=CONVERT_HINT)
            return model.eval()
        directory = resolve_folder(name_or_dir, revision, cache_dir, local_files_only)
        model = cls(read_config(directory / CONFIG_NAME))
        load_weights(model, directory / WEIGHTS_NAME)
        check_fingerprint(directory / CONFIG_NAME, model.fingerprint)
        return model.eval()
