"""Run an exported codec (``codec export-onnx``) with numpy + onnxruntime only: no torch.

This module imports nothing else from ``codec``, so it can be copied next to a deployment::

    model = OnnxCodec("exported/")                  # reads codec_onnx.json
    stream = model.stream(batch_size=1)
    for pcm in chunks:                              # float32 [B, 1, n], any n
        codes = stream.encode(pcm)                  # [B, K, k] int64, the frames now complete
        audio = stream.decode(codes)                # [B, 1, k * hop]
    codes = stream.flush()                          # the zero-padded last frame, if any
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

__all__ = ["OnnxCodec", "OnnxStream", "load_sidecar"]

SIDECAR = "codec_onnx.json"


def load_sidecar(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar of an exported folder; ``ValueError`` (one line) if it is not one."""
    path = Path(folder) / SIDECAR
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: not an exported codec ({SIDECAR}: {exc})") from None
    if info.get("format") != "codec-onnx" or info.get("format_version") != 1:
        raise ValueError(f"{path}: not a codec-onnx version 1 sidecar")
    return info


def _zeros(layout: list[dict[str, Any]], batch: int) -> dict[str, np.ndarray]:
    return {s["input"]: np.zeros([batch, *s["shape"][1:]], dtype=s["dtype"]) for s in layout}


class OnnxCodec:
    """The graphs of an exported folder in onnxruntime sessions (CPU, ``threads`` each).

    ``int8`` runs the dynamically quantized graphs (exported with ``--int8``).
    """

    def __init__(self, folder: str | os.PathLike[str], threads: int = 1, int8: bool = False):
        self.folder = Path(folder)
        self.info = load_sidecar(folder)
        files = self.info["graphs"]
        if int8:
            if "int8" not in self.info:
                raise ValueError(f"{folder}: no int8 graphs (export with --int8)")
            files = self.info["int8"]["graphs"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.sessions = {
            name: ort.InferenceSession(
                str(self.folder / file), options, providers=["CPUExecutionProvider"]
            )
            for name, file in files.items()
        }
        self.hop = int(self.info["hop_length"])

    def encode(self, pcm: np.ndarray) -> np.ndarray:
        """pcm ``[B, C, T]`` (T >= 1) -> codes ``[B, K, ceil(T / hop)]``; the last frame is
        zero-padded, as ``Codec.encode`` does."""
        pcm = np.asarray(pcm, dtype=np.float32)
        pad = -pcm.shape[-1] % self.hop
        pcm = np.pad(pcm, [(0, 0), (0, 0), (0, pad)])
        codes: np.ndarray = self.sessions["encode"].run(["codes"], {"pcm": pcm})[0]
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """codes ``[B, K, F]`` -> audio ``[B, C, F * hop]``."""
        audio: np.ndarray = self.sessions["decode"].run(
            ["audio"], {"codes": np.asarray(codes, dtype=np.int64)}
        )[0]
        return audio

    def stream(self, batch_size: int = 1) -> OnnxStream:
        return OnnxStream(self, batch_size)


class OnnxStream:
    """Streaming state of ``batch_size`` streams: the graphs' state tensors and the pcm that
    is not yet a whole hop (the frame buffer). Codes equal offline encoding of the samples
    pushed, zero-padded to whole hops; audio equals offline decoding."""

    def __init__(self, model: OnnxCodec, batch_size: int = 1) -> None:
        self.model = model
        self.batch_size = batch_size
        self.reset()

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start fresh streams (only the items where ``mask`` [B] is True, between whole hops)."""
        info = self.model.info
        enc, dec = (
            _zeros(info["encoder_state"], self.batch_size),
            _zeros(info["decoder_state"], self.batch_size),
        )
        if mask is None:
            self.encoder_state, self.decoder_state = enc, dec
            channels = int(info["channels"])
            self.pending = np.zeros((self.batch_size, channels, 0), dtype=np.float32)
            return
        if self.pending.shape[-1]:
            raise ValueError(f"reset between whole hops: {self.pending.shape[-1]} samples held")
        rows = np.asarray(mask, dtype=bool)
        for state in (self.encoder_state, self.decoder_state):
            for array in state.values():
                array[rows] = 0

    def encode(self, pcm: np.ndarray) -> np.ndarray:
        """pcm ``[B, C, n]`` (any n >= 0) -> codes ``[B, K, k]`` of the hops now complete."""
        data = np.concatenate([self.pending, np.asarray(pcm, dtype=np.float32)], axis=-1)
        whole = data.shape[-1] // self.model.hop * self.model.hop
        self.pending = data[..., whole:]
        if whole == 0:
            k = int(self.model.info["num_codebooks"])
            return np.zeros((self.batch_size, k, 0), dtype=np.int64)
        return self._step("encoder_step", "pcm", data[..., :whole], "encoder_state")

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """codes ``[B, K, k]`` -> audio ``[B, C, k * hop]``."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape[-1] == 0:
            return self.pending[..., :0].copy()
        return self._step("decoder_step", "codes", codes, "decoder_state")

    def flush(self) -> np.ndarray:
        """End the stream: codes of the held-back samples zero-padded to a hop (maybe none).
        Decode them, then :meth:`reset` before the next stream."""
        pad = -self.pending.shape[-1] % self.model.hop
        codes = self.encode(np.zeros((*self.pending.shape[:2], pad), dtype=np.float32))
        self.pending = self.pending[..., :0]
        return codes

    def _step(self, graph: str, name: str, data: np.ndarray, which: str) -> np.ndarray:
        state: dict[str, np.ndarray] = getattr(self, which)
        layout = self.model.info[which]
        outputs = [s["output"] for s in layout]
        first = "codes" if name == "pcm" else "audio"
        result = self.model.sessions[graph].run([first, *outputs], {name: data, **state})
        setattr(self, which, {s["input"]: v for s, v in zip(layout, result[1:], strict=True)})
        out: np.ndarray = result[0]
        return out
