"""The codec: SEANet encoder -> (G)RVQ -> SEANet decoder, with offline and streaming paths."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from codec.audio import convert_channels, resample
from codec.builders import quantizer_from_config
from codec.config import PRESETS, CodecConfig
from codec.convert import CONVERT_HINT, converted_weights
from codec.nn.conv import StreamingConv1d
from codec.pretrained import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    load_state,
    load_weights,
    read_config,
    save_pretrained,
)
from codec.quantize import QuantizerOutput
from codec.seanet.decoder import SEANetDecoder
from codec.seanet.encoder import SEANetEncoder
from codec.tokens import Tokens

if TYPE_CHECKING:
    from codec.streaming import StreamingSession

# On CPU, inference runs the batch in groups whose widest activation stays under this size:
# glibc serves up to 32 MB from its heap, larger temporaries get fresh pages on every call,
# which costs more than the arithmetic (batch 8 x 10 s ran 1.4x slower than 8 single items).
CPU_GROUP_BYTES = 32 * 2**20


@dataclass
class CodecOutput:
    """Training forward result.

    audio [B, C, T] (same length as the input), latent [B, D, F], frame lengths [B],
    and the quantizer's typed output (quantized, codes, losses, metrics).
    """

    audio: Tensor
    latent: Tensor
    frame_lengths: Tensor
    vq: QuantizerOutput


class Codec(nn.Module):
    """SEANet codec. Inputs are ``[B, C, T]`` waveforms at ``sample_rate``."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SEANetEncoder(config.seanet)
        self.quantizer = quantizer_from_config(config.seanet.dimension, config.quantizer)
        self.decoder = SEANetDecoder(config.seanet)

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
        return self.config.seanet.channels

    @property
    def num_codebooks(self) -> int:
        return self.config.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        return self.config.quantizer.codebook_size

    @property
    def groups(self) -> int:
        return self.config.quantizer.groups

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
        audio = self.decoder(vq.quantized)[..., : wav.shape[-1]]
        return CodecOutput(audio=audio, latent=latent, frame_lengths=frame_lengths, vq=vq)

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
        valid samples per item at the input rate. Each item is zero-padded to a whole number
        of frames before encoding, so no layer pads its tail on its own: that is what makes
        batched results equal items encoded alone (and streaming equal offline).
        """
        wav, lengths = self._prepare(wav, sample_rate, lengths, resample_input)
        k = self.check_num_codebooks(num_codebooks)
        frames = torch.div(lengths + self.hop_length - 1, self.hop_length, rounding_mode="floor")
        wav = pad_to_frames(wav, lengths, frames, self.hop_length)
        if not self.config.seanet.causal and bool((frames < frames.max()).any()):
            # Non-causal frames see the future: padding after a shorter item would change them.
            return self.make_tokens(
                self._encode_items(wav, frames, k, range(len(frames))), frames, lengths
            )
        codes = self._encode_codes(wav, k)
        # Reflect padding makes a layer's first outputs peek a few inputs ahead; items too short
        # to hold that look-ahead would see the next item's padding, so they go alone.
        short = [
            i
            for i, n in enumerate(frames)
            if n < frames.max() and n * self.hop_length <= self._lookahead
        ]
        if short:
            codes[short] = self._encode_items(wav, frames, k, short)
        return self.make_tokens(codes, frames, lengths)

    def encode_many(self, wavs: Sequence[Tensor], num_codebooks: int | None = None) -> Tokens:
        """Encode items ``[C, n_i]`` already at the model rate and channel count as one batch
        (zero-padded, with their lengths): the same codes as each item encoded alone."""
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
            self._encode_codes(wav[i : i + 1, :, : int(frames[i]) * self.hop_length], k)
            for i in which
        ]
        return torch.cat([nn.functional.pad(c, (0, width - c.shape[-1])) for c in items])

    @functools.cached_property
    def _lookahead(self) -> int:
        """Waveform samples the encoder's first frame can depend on beyond sample 0 (reflect)."""
        total, rate = 0, 1
        for module in self.encoder.modules():
            if isinstance(module, StreamingConv1d):
                if module.pad_mode == "reflect":
                    total += module.left * rate + rate - 1
                rate *= module.stride
        return total

    def _encode_codes(self, wav: Tensor, num_codebooks: int) -> Tensor:
        return torch.cat(
            [
                self.quantizer.encode(self.encoder(wav[group]), num_codebooks=num_codebooks)
                for group in self._groups(wav.shape[0], wav.shape[-1])
            ]
        )

    def _groups(self, batch: int, samples: int) -> list[slice]:
        """Slices of the batch that run together (all of it on accelerators; see CPU_GROUP_BYTES)."""
        if self.device.type != "cpu":
            return [slice(0, batch)]
        widest = samples * self.config.seanet.n_filters * 4  # float32 at the waveform rate
        size = max(1, CPU_GROUP_BYTES // max(widest, 1))
        if batch <= size:
            return [slice(0, batch)]
        return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]

    def make_tokens(self, codes: Tensor, frames: Tensor, num_samples: Tensor) -> Tokens:
        return Tokens(
            codes=codes.long().cpu(),
            lengths=frames.long().cpu(),
            num_samples=num_samples.long().cpu(),
            sample_rate=self.sample_rate,
            frame_rate=self.frame_rate,
            codebook_size=self.codebook_size,
            groups=self.groups,
            model_id=self.config.model_id,
        )

    @torch.no_grad()
    def decode(self, tokens: Tokens) -> Tensor:
        """Tokens -> audio [B, C, T] at ``sample_rate``, T = max valid samples; padding zeroed."""
        codes = self.check_tokens(tokens)
        groups = self._groups(codes.shape[0], codes.shape[-1] * self.hop_length)
        audio = torch.cat([self.decoder(self.quantizer.decode(codes[g])) for g in groups])
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
        codes = tokens.codes
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"codes out of range [0, {self.codebook_size})")
        return codes.to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---------------------------------------------------------------- helpers
    def _frame_lengths(self, wav: Tensor, lengths: Tensor | None) -> Tensor:
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[-1], device=wav.device)
        return torch.div(lengths + self.hop_length - 1, self.hop_length, rounding_mode="floor")

    def check_num_codebooks(self, num_codebooks: int | None) -> int:
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

    # ---------------------------------------------------------------- streaming
    def streaming(self, batch_size: int = 1, num_codebooks: int | None = None) -> StreamingSession:
        """A streaming session: ``with codec.streaming(1) as s: s.encode_chunk(pcm)``.

        ``num_codebooks`` chooses the bitrate (default: all codebooks).
        """
        from codec.streaming import StreamingSession

        return StreamingSession(self, batch_size, num_codebooks)

    # ---------------------------------------------------------------- save / load
    def save_pretrained(self, directory: str | os.PathLike[str], force: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` + ``README.md`` into ``directory``."""
        return save_pretrained(self, self.config, Path(directory), force)

    @classmethod
    def from_pretrained(cls, name_or_dir: str | os.PathLike[str], path: str | None = None) -> Codec:
        """Load an exported directory, or a named preset converted from ``path`` (EnCodec)."""
        if str(name_or_dir) in PRESETS and not Path(name_or_dir).exists():
            config, state = converted_weights(str(name_or_dir), path)
            model = cls(config)
            load_state(model, state, str(path), hint=CONVERT_HINT)
            return model.eval()
        directory = Path(name_or_dir)
        model = cls(read_config(directory / CONFIG_NAME))
        load_weights(model, directory / WEIGHTS_NAME)
        return model.eval()


# -------------------------------------------------------------------- input checks
def as_batch(wav: Any) -> Tensor:
    """Accept [T], [C, T] or [B, C, T] float audio; anything else is a clear ValueError."""
    if not isinstance(wav, Tensor):
        raise ValueError(f"audio must be a torch.Tensor, got {type(wav).__name__}")
    if not wav.is_floating_point():
        raise ValueError(f"audio must be floating point in [-1, 1], got dtype {wav.dtype}")
    if wav.dim() == 0 or wav.dim() > 3:
        raise ValueError(f"audio must be [T], [C, T] or [B, C, T], got shape {tuple(wav.shape)}")
    while wav.dim() < 3:
        wav = wav.unsqueeze(0)
    if wav.numel() == 0:
        raise ValueError(f"audio is empty: shape {tuple(wav.shape)}")
    if not torch.isfinite(wav).all():
        raise ValueError("audio contains NaN or infinite values")
    return wav.float()


def check_waveform(wav: Tensor, channels: int) -> Tensor:
    if wav.dim() != 3 or wav.shape[1] != channels:
        raise ValueError(f"expected audio [B, {channels}, T], got shape {tuple(wav.shape)}")
    return wav


def check_lengths(lengths: Tensor, wav: Tensor) -> Tensor:
    lengths = torch.as_tensor(lengths, dtype=torch.long).flatten().cpu()
    if lengths.shape[0] != wav.shape[0]:
        raise ValueError(f"lengths has {lengths.shape[0]} items for a batch of {wav.shape[0]}")
    if int(lengths.min()) < 1 or int(lengths.max()) > wav.shape[-1]:
        raise ValueError(f"lengths must be in [1, {wav.shape[-1]}], got {lengths.tolist()}")
    return lengths


def pad_to_frames(wav: Tensor, lengths: Tensor, frames: Tensor, hop_length: int) -> Tensor:
    """[B, C, T] -> [B, C, max(frames) * hop], zero after each item's ``lengths`` samples."""
    width = int(frames.max()) * hop_length
    wav = nn.functional.pad(wav, (0, max(0, width - wav.shape[-1])))[..., :width]
    return wav * frame_mask(lengths.to(wav.device), width)[:, None, :].to(wav.dtype)


def frame_mask(lengths: Tensor, width: int) -> Tensor:
    """[B] lengths -> [B, width] bool mask, True on valid positions."""
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]
