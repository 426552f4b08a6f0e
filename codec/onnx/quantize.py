"""int8 copies of the exported graphs: onnxruntime's dynamic quantization of the weights of
MatMul / Gemm / LSTM (activations are quantized per call). Convolutions stay float32: their
integer kernels (ConvInteger) ran 1.5-2x slower than the float ones on the 24 kHz model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["OP_TYPES", "quantize_graphs"]

#: LSTM included: its recurrent weights are read once per frame, int8 reads a quarter
OP_TYPES = ("MatMul", "Gemm", "LSTM")


def quantize_graphs(folder: Path, files: dict[str, str]) -> dict[str, Any]:
    """Write ``<graph>.int8.onnx`` beside each graph ``files`` names in ``folder``; returns the
    sidecar's ``int8`` entry. The codebook searches stay float32: an int8 distance would
    pick other codes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graphs = {}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs generic advice on the root logger
    try:
        for name, file in files.items():
            out = file.replace(".onnx", ".int8.onnx")
            quantize_dynamic(
                folder / file,
                folder / out,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(OP_TYPES),
                nodes_to_exclude=_codebook_nodes(folder / file),
            )
            graphs[name] = out
    finally:
        root.setLevel(level)
    method = f"onnxruntime quantize_dynamic, QInt8 weights of {'/'.join(OP_TYPES)}"
    return {"graphs": graphs, "method": method}


def _codebook_nodes(path: Path) -> list[str]:
    """Names of the nodes that compute code distances or the DFT (kept in float)."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    keep = []
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        after = [n.op_type for out in node.output for n in consumers.get(out, [])]
        # the distance GEMM feeds the ArgMin; the DFT runs in double
        if "ArgMin" in after or _is_double(node, model):
            keep.append(node.name)
    return keep


def _is_double(node: Any, model: Any) -> bool:
    import onnx

    doubles = {
        v.name
        for v in list(model.graph.value_info) + list(model.graph.input)
        if v.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    }
    doubles |= {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.DOUBLE}
    return any(name in doubles for name in node.input)
