"""SEANet encoder: lengths, streaming == offline, causality, EnCodec parity."""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import torch

from codec.config import SEANetConfig
from codec.nn import remove_weight_norm
from codec.nn.streaming import run_chunked
from codec.seanet import SEANetEncoder
from codec.seanet.blocks import SEANetResnetBlock


def assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 0.0, msg: str = "") -> None:
    """Max-abs comparison (``torch.testing.assert_close`` costs seconds on its first call)."""
    assert got.shape == want.shape, f"{msg} shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got - want).abs().max().item() if got.numel() else 0.0
    assert err <= atol, f"{msg} max abs error {err:.3g} > {atol}"


TINY = SEANetConfig(
    n_filters=4, dimension=8, ratios=(4, 2), lstm_layers=1, causal=True, pad_mode="constant"
)


STREAM_CONFIGS = {
    "constant": TINY,
    "reflect": replace(TINY, pad_mode="reflect"),
    "reflect-2res-snake": replace(
        TINY, pad_mode="reflect", ratios=(2, 2), n_residual_layers=2, activation="snake"
    ),
    "replicate-trueskip": replace(TINY, pad_mode="replicate", true_skip=True, lstm_layers=0),
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread sync dominates on a shared CPU
    yield
    torch.set_num_threads(n)


def encodec_modules() -> Any:
    stub = "torchaudio" not in sys.modules
    if stub:  # encodec imports torchaudio at package level, which does not import here
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pytest.importorskip("encodec.modules")
    finally:
        if stub:
            del sys.modules["torchaudio"]


def from_encodec(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an EnCodec SEANet state dict to ours (keys only)."""
    out = {}
    for key, value in state.items():
        key = "layers." + key.removeprefix("model.")
        key = key.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".convtr.")
        key = key.replace("weight_g", "parametrizations.weight.original0")
        key = key.replace("weight_v", "parametrizations.weight.original1")
        out[key] = value
    return out


def encodec_kwargs(cfg: SEANetConfig) -> dict[str, Any]:
    return dict(
        channels=cfg.channels,
        dimension=cfg.dimension,
        n_filters=cfg.n_filters,
        n_residual_layers=cfg.n_residual_layers,
        ratios=list(cfg.ratios),
        kernel_size=cfg.kernel_size,
        last_kernel_size=cfg.last_kernel_size,
        residual_kernel_size=cfg.residual_kernel_size,
        dilation_base=cfg.dilation_base,
        causal=cfg.causal,
        pad_mode=cfg.pad_mode,
        true_skip=cfg.true_skip,
        compress=cfg.compress,
        lstm=cfg.lstm_layers,
    )


def chunk_sweeps(hop: int) -> list[list[int]]:
    gen = torch.Generator().manual_seed(hop)
    rand = [int(v) for v in torch.randint(0, 3 * hop + 3, (12,), generator=gen)]
    return [[1], [3], [7], [hop - 1], [hop], [3 * hop + 1], rand]


@pytest.mark.parametrize("causal", [True, False])
def test_output_length(causal: bool) -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(replace(TINY, causal=causal, pad_mode="reflect"))
    assert enc.hop_length == 8
    for length in (1, 7, 8, 9, 40, 61):
        assert enc(torch.randn(2, 1, length)).shape == (2, 8, -(-length // 8))


@pytest.mark.parametrize("name", list(STREAM_CONFIGS))
def test_streaming_equals_offline(name: str) -> None:
    cfg = STREAM_CONFIGS[name]
    torch.manual_seed(0)
    enc = SEANetEncoder(cfg)
    for length in (5, 61):
        x = torch.randn(2, 1, length)
        ref = enc(x)
        for sizes in chunk_sweeps(cfg.hop_length):
            got = run_chunked(enc, x, sizes)
            assert_close(got, ref, 1e-5, f"T={length} {sizes}")


def test_one_frame_latency_with_zero_padding() -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(TINY)
    x = torch.randn(1, 1, 48)
    with enc.streaming(1):
        emitted = 0
        for t in range(48):
            emitted += enc(x[..., t : t + 1]).shape[-1]
            assert emitted == (t + 1) // 8  # frame i as soon as sample (i + 1) * hop - 1 arrived
        assert enc.flush().shape[-1] == 0


def test_causality() -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(TINY)
    x = torch.randn(1, 1, 64)
    for t0 in (8, 21, 40):
        y = x.clone()
        y[..., t0:] = torch.randn_like(y[..., t0:])
        past = t0 // 8
        assert_close(enc(x)[..., :past], enc(y)[..., :past], 0)


def test_non_causal_refuses_streaming() -> None:
    enc = SEANetEncoder(replace(TINY, causal=False))
    with pytest.raises(ValueError, match="non-causal model cannot stream"), enc.streaming(1):
        pass


def test_input_shape_checked() -> None:
    enc = SEANetEncoder(TINY)
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        enc(torch.randn(2, 2, 16))


def test_weight_norm_removal_keeps_outputs_and_streaming() -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(STREAM_CONFIGS["reflect"])
    x = torch.randn(1, 1, 37)
    ref = enc(x)
    remove_weight_norm(enc)
    assert_close(enc(x), ref, 1e-6)
    assert_close(run_chunked(enc, x, 5), ref, 1e-5)


@pytest.mark.parametrize(
    "cfg",
    [
        replace(TINY, pad_mode="reflect", n_residual_layers=2, lstm_layers=2),
        replace(TINY, true_skip=True),
        replace(TINY, causal=False, pad_mode="reflect", ratios=(5, 2)),
    ],
    ids=["causal-reflect", "causal-constant-trueskip", "noncausal"],
)
def test_matches_encodec(cfg: SEANetConfig) -> None:
    em = encodec_modules()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = em.SEANetEncoder(**encodec_kwargs(cfg))
    ours = SEANetEncoder(cfg)
    ours.load_state_dict(from_encodec(ref.state_dict()))
    for length in (3, 50, 97):
        x = torch.randn(2, 1, length)
        assert_close(ours(x), ref(x), 1e-5)


@pytest.mark.parametrize("true_skip", [True, False])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_residual_block_gradients(true_skip: bool, pad_mode: str) -> None:
    """The fused 1x1-conv + residual sum (in-place GEMM accumulation, in-place ELU) and the
    copy-free padding keep exact gradients: numerical check in float64 on an input long enough
    for the copy-free path."""
    cfg = SEANetConfig(n_filters=2, causal=True, pad_mode=pad_mode, true_skip=true_skip)
    block = SEANetResnetBlock(cfg, dim=4, dilation=2).double()
    x = torch.randn(1, 4, 44, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,), eps=1e-6, atol=1e-5)
