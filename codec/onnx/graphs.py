"""The four exported graphs as ``nn.Module`` s over a private copy of the codec.

``encoder_step(pcm [B, 1, k*hop], *state) -> (codes [B, K, k], *state')`` and
``decoder_step(codes [B, K, k], *state) -> (audio [B, 1, k*hop], *state')`` carry the whole
streaming state as tensors; ``encode(pcm) -> codes`` and ``decode(codes) -> audio`` are the
same steps from zero state (offline is streaming with empty history), any length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from codec.model import Codec
from codec.nn.conv import StreamingConv1d, StreamingConvTranspose1d
from codec.nn.norm import remove_weight_norm
from codec.nn.streaming import streaming_modules
from codec.onnx.layers import LayerStep, StateSpec, layer_step, spectrum_step
from codec.vocos.decoder import VocosDecoder

__all__ = ["Graphs", "StateIO", "build_graphs", "check_exportable"]


def check_exportable(codec: Codec) -> None:
    """``ValueError`` (one line) unless ``codec`` has an exact step form: causal, zero padded,
    no left trim in its transposed convs."""
    if not codec.config.causal:
        raise ValueError(
            "a non-causal model has no streaming state to export (its frames depend on future "
            "audio); export a causal model (seanet.causal=true)"
        )
    experimental = {
        "spectral.pitch": codec.config.encoder == "spectral" and codec.config.spectral.pitch,
        "vocos.harmonic": codec.config.decoder == "vocos" and codec.config.vocos.harmonic,
    }
    for key, on in experimental.items():
        if on:
            raise ValueError(f"{key}=true (experimental) has no ONNX form yet; export without it")
    for prefix, part in (("encoder", codec.encoder), ("decoder", codec.decoder)):
        for inner, m in part.named_modules():
            name = f"{prefix}.{inner}"
            if isinstance(m, StreamingConv1d) and m.pad_mode != "constant" and not m.pointwise:
                raise ValueError(
                    f"{name}: pad_mode={m.pad_mode!r} has no fixed-size streaming state (its "
                    "first frames wait for later samples); ONNX export needs pad_mode='constant'"
                )
            if isinstance(m, StreamingConvTranspose1d) and m.left:
                raise ValueError(
                    f"{name}: trim_right_ratio={m.trim_right_ratio} drops samples at a stream's "
                    "start; ONNX export needs trim_right_ratio=1.0"
                )


@dataclass
class StateIO:
    """The state tensors flowing through one graph call, by layer name."""

    layers: list[tuple[str, LayerStep]]
    inputs: dict[str, list[Tensor]] = field(default_factory=dict)
    outputs: dict[str, list[Tensor]] = field(default_factory=dict)

    @property
    def specs(self) -> list[StateSpec]:
        """Every state tensor, named ``<layer>.<state>``, in graph input order."""
        return [
            StateSpec(f"{name}.{s.name}", s.shape, s.dtype)
            for name, step in self.layers
            for s in step.specs
        ]

    def load(self, states: tuple[Tensor, ...]) -> None:
        self.inputs, self.outputs, rest = {}, {}, list(states)
        for name, step in self.layers:
            self.inputs[name], rest = rest[: len(step.specs)], rest[len(step.specs) :]

    def zeros(self, ref: Tensor) -> tuple[Tensor, ...]:
        """Fresh-stream state, batch taken from ``ref``."""
        return tuple(s.zeros(ref) for s in self.specs)

    def dump(self) -> list[Tensor]:
        return [t for name, _ in self.layers for t in self.outputs[name]]


def _bind(part: nn.Module, prefix: str) -> StateIO:
    """Replace the forward of every streaming layer of ``part`` (a private copy) by its
    exportable step, reading and writing the state through the returned :class:`StateIO`."""
    named = {id(m): name for name, m in part.named_modules()}
    io = StateIO([(f"{prefix}.{named[id(m)]}", layer_step(m)) for m in streaming_modules(part)])
    for (name, step), m in zip(io.layers, streaming_modules(part), strict=True):

        def forward(x: Tensor, name: str = name, step: LayerStep = step) -> Tensor:
            y, io.outputs[name] = step.step(x, io.inputs[name])
            return y

        object.__setattr__(m, "forward", forward)
    if isinstance(part, VocosDecoder):
        object.__setattr__(part, "spectrum", spectrum_step(part.head, part.bins))
    return io


class EncoderGraph(nn.Module):
    """pcm ``[B, 1, k*hop]`` (+ state) -> codes ``[B, K, k]`` int64 (+ state')."""

    def __init__(self, codec: Codec, io: StateIO, offline: bool) -> None:
        super().__init__()
        self.codec, self.io, self.offline = codec, io, offline

    def forward(self, pcm: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        self.io.load(self.io.zeros(pcm) if self.offline else states)
        latent = self.codec.encoder(pcm)
        codes = self.codec.quantizer.encode(latent)
        return (codes,) if self.offline else (codes, *self.io.dump())


class DecoderGraph(nn.Module):
    """codes ``[B, K, k]`` int64 (+ state) -> audio ``[B, 1, k*hop]`` (+ state')."""

    def __init__(self, codec: Codec, io: StateIO, offline: bool) -> None:
        super().__init__()
        self.codec, self.io, self.offline = codec, io, offline

    def forward(self, codes: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        quantizer = self.codec.quantizer
        batch, k = codes.shape[0], codes.shape[1]
        flat = codes.transpose(1, 2).reshape(-1, k)
        latent = quantizer.decode_flat(flat, k // quantizer.groups)
        latent = latent.reshape(batch, -1, latent.shape[-1]).transpose(1, 2)
        self.io.load(self.io.zeros(latent) if self.offline else states)
        audio = self.codec.decoder(latent)
        return (audio,) if self.offline else (audio, *self.io.dump())


@dataclass
class Graphs:
    """The graph modules and the state layout of each half."""

    encoder_step: EncoderGraph
    decoder_step: DecoderGraph
    encode: EncoderGraph
    decode: DecoderGraph
    encoder_state: list[StateSpec]
    decoder_state: list[StateSpec]


def build_graphs(codec: Codec) -> Graphs:
    """The graphs of ``codec`` (unchanged: they run on a float32 copy without weight norm)."""
    check_exportable(codec)
    # A fresh model, not a deepcopy: weight norm's parametrized classes would be shared, and
    # folding the copy's would strip the original's ``weight``.
    model = Codec(codec.config)
    model.load_state_dict({k: v.float().cpu() for k, v in codec.state_dict().items()})
    model = remove_weight_norm(model.eval())
    for p in model.parameters():
        p.requires_grad_(False)
    enc, dec = _bind(model.encoder, "encoder"), _bind(model.decoder, "decoder")
    return Graphs(
        encoder_step=EncoderGraph(model, enc, offline=False),
        decoder_step=DecoderGraph(model, dec, offline=False),
        encode=EncoderGraph(model, enc, offline=True),
        decode=DecoderGraph(model, dec, offline=True),
        encoder_state=enc.specs,
        decoder_state=dec.specs,
    )
