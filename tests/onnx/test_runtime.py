"""The torch-free runtime: frame buffering, flush, per-stream reset, bad folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.model import Codec
from codec.onnx.runtime import OnnxCodec, load_sidecar
from tests.onnx.conftest import ROOT


def test_stream_buffers_partial_hops(tiny_onnx: Path) -> None:
    model = OnnxCodec(tiny_onnx)
    stream = model.stream()
    assert stream.encode(np.zeros((1, 1, model.hop - 1), np.float32)).shape[-1] == 0
    assert stream.encode(np.zeros((1, 1, 1), np.float32)).shape[-1] == 1
    assert stream.encode(np.zeros((1, 1, 3), np.float32)).shape[-1] == 0
    assert stream.flush().shape[-1] == 1  # the 3 samples, zero-padded to a hop
    assert stream.flush().shape[-1] == 0


def test_reset_one_stream_of_a_batch(tiny: Codec, tiny_onnx: Path) -> None:
    """A server's batch of streams: item 0 restarts, item 1 goes on, both stay exact."""
    hop = tiny.hop_length
    torch.manual_seed(0)
    a, b, c = (torch.randn(1, 1, 6 * hop) * 0.3 for _ in range(3))
    model = OnnxCodec(tiny_onnx)
    stream = model.stream(batch_size=2)
    first = stream.encode(torch.cat([a, b]).numpy())
    stream.reset(np.array([True, False]))
    second = stream.encode(torch.cat([c, b]).numpy())
    np.testing.assert_array_equal(first[0], tiny.encode(a, 16000).codes[0].numpy())
    np.testing.assert_array_equal(second[0], tiny.encode(c, 16000).codes[0].numpy())
    both = tiny.encode(torch.cat([b, b], -1), 16000).codes[0].numpy()
    np.testing.assert_array_equal(np.concatenate([first[1], second[1]], -1), both)
    stream.encode(np.zeros((2, 1, 5), np.float32))
    with pytest.raises(ValueError, match="whole hops"):
        stream.reset(np.array([True, False]))


def test_not_an_export_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an exported codec"):
        load_sidecar(tmp_path)
    (tmp_path / "codec_onnx.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a codec-onnx version 1"):
        OnnxCodec(tmp_path)


def test_runtime_imports_no_torch(tiny_onnx: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from codec.onnx.runtime import OnnxCodec\n"
        f"m = OnnxCodec({str(tiny_onnx)!r})\n"
        "print(m.encode(np.zeros((1, 1, 100), np.float32)).shape)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
