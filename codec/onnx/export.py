"""``export_onnx``: the four graphs of a causal codec and their JSON sidecar, in one folder.

The folder (written atomically, replaced only with ``force``)::

    encoder_step.onnx   pcm [B, C, k*hop] + encoder state  -> codes [B, K, k] + state'
    decoder_step.onnx   codes [B, K, k] + decoder state    -> audio [B, C, k*hop] + state'
    encode.onnx         pcm [B, C, F*hop] -> codes [B, K, F]       (offline, any length)
    decode.onnx         codes [B, K, F]   -> audio [B, C, F*hop]
    codec_onnx.json     rates, shapes, state layout, opset, model fingerprint

A state input ``state.<name>`` has the output ``next.<name>``; a stream starts from zeros.
The caller keeps the pcm that is not yet a whole hop (the frame buffer) and feeds whole hops.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from codec.fileio import atomic_dir
from codec.model import Codec
from codec.onnx.graphs import Graphs, build_graphs
from codec.onnx.layers import StateSpec

__all__ = ["FORMAT", "GRAPH_FILES", "SIDECAR", "ExportResult", "export_onnx"]

FORMAT, FORMAT_VERSION = "codec-onnx", 1
SIDECAR = "codec_onnx.json"
GRAPH_FILES = {
    "encoder_step": "encoder_step.onnx",
    "decoder_step": "decoder_step.onnx",
    "encode": "encode.onnx",
    "decode": "decode.onnx",
}
#: opset 17: LayerNormalization as one op; onnxruntime 1.14+ runs it
OPSET = 17


@dataclass
class ExportResult:
    """Where the export went and what the sidecar says."""

    folder: Path
    sidecar: dict[str, Any]


def _state_names(specs: list[StateSpec], prefix: str) -> list[str]:
    return [f"{prefix}.{s.name}" for s in specs]


def _export(
    module: nn.Module, args: tuple[Tensor, ...], path: Path, io: tuple[list[str], list[str]]
) -> None:
    """Trace ``module`` on ``args`` into ``path``; axis 0 of everything is the batch, axis 2
    of pcm / codes / audio the (dynamic) time."""
    inputs, outputs = io
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in inputs + outputs}
    for name in ("pcm", "audio"):
        axes.get(name, {}).update({2: "samples"})
    for name in ("codes",):
        axes.get(name, {}).update({2: "frames"})
    with warnings.catch_warnings():
        # the legacy (TorchScript) exporter is the one that keeps a python-free trace of our
        # step forms; its deprecation and tracer notes are expected here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def _write_graphs(graphs: Graphs, folder: Path, codec: Codec) -> None:
    pcm = torch.zeros(2, codec.channels, 3 * codec.hop_length)
    k = codec.num_codebooks
    codes = torch.zeros(2, k, 3, dtype=torch.long)
    enc_in = _state_names(graphs.encoder_state, "state")
    enc_out = _state_names(graphs.encoder_state, "next")
    dec_in = _state_names(graphs.decoder_state, "state")
    dec_out = _state_names(graphs.decoder_state, "next")
    enc_zeros = tuple(s.zeros(pcm) for s in graphs.encoder_state)
    dec_zeros = tuple(s.zeros(pcm) for s in graphs.decoder_state)
    with torch.no_grad():
        _export(
            graphs.encoder_step,
            (pcm, *enc_zeros),
            folder / GRAPH_FILES["encoder_step"],
            (["pcm", *enc_in], ["codes", *enc_out]),
        )
        _export(
            graphs.decoder_step,
            (codes, *dec_zeros),
            folder / GRAPH_FILES["decoder_step"],
            (["codes", *dec_in], ["audio", *dec_out]),
        )
        _export(graphs.encode, (pcm,), folder / GRAPH_FILES["encode"], (["pcm"], ["codes"]))
        _export(graphs.decode, (codes,), folder / GRAPH_FILES["decode"], (["codes"], ["audio"]))


def _layout(specs: list[StateSpec]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "input": f"state.{s.name}",
            "output": f"next.{s.name}",
            "shape": ["batch", *s.shape],
            "dtype": s.dtype,
        }
        for s in specs
    ]


def sidecar(codec: Codec, graphs: Graphs) -> dict[str, Any]:
    """What a caller needs to drive the graphs without this package."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_id": codec.config.model_id,
        "model_fingerprint": codec.fingerprint,
        "sample_rate": codec.sample_rate,
        "channels": codec.channels,
        "hop_length": codec.hop_length,
        "frame_rate": codec.frame_rate,
        "num_codebooks": codec.num_codebooks,
        "codebook_size": codec.codebook_size,
        "groups": codec.groups,
        "opset": OPSET,
        "graphs": dict(GRAPH_FILES),
        "pcm": {"name": "pcm", "shape": ["batch", codec.channels, "samples"], "dtype": "float32"},
        "codes": {"name": "codes", "shape": ["batch", "num_codebooks", "frames"], "dtype": "int64"},
        "audio": {
            "name": "audio",
            "shape": ["batch", codec.channels, "samples"],
            "dtype": "float32",
        },
        "encoder_state": _layout(graphs.encoder_state),
        "decoder_state": _layout(graphs.decoder_state),
        "notes": (
            "Feed whole hops (samples a multiple of hop_length, at least one); keep the rest for "
            "the next call. Each state starts as zeros of its shape; pass next.* back as state.*. "
            "Offline encode equals streaming with zero-padding of the last hop; audio is "
            "frames * hop_length samples, trim it to the input length."
        ),
    }


def export_onnx(
    codec: Codec, folder: str | os.PathLike[str], force: bool = False, int8: bool = False
) -> ExportResult:
    """Write ``codec``'s graphs and sidecar into ``folder`` (atomically).

    ``ValueError`` (one line) for a model without an exact step form (non-causal, reflect
    padding, left trim), ``FileExistsError`` if ``folder`` exists and not ``force``.
    """
    target = Path(folder)
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to replace it)")
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder")
    graphs = build_graphs(codec)
    info = sidecar(codec, graphs)
    with atomic_dir(target) as tmp:
        _write_graphs(graphs, tmp, codec)
        if int8:
            from codec.onnx.quantize import quantize_graphs

            info["int8"] = quantize_graphs(tmp, GRAPH_FILES)
        (tmp / SIDECAR).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return ExportResult(target, info)
