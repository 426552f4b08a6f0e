"""SEANet encoder: lengths, streaming == offline, causality, EnCodec parity."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
import torch

from codec.config import SEANetConfig
from codec.nn import remove_weight_norm
from codec.nn.streaming import run_chunked
from codec.seanet import SEANetEncoder
from tests.nn.helpers import (
    assert_causal,
    assert_chunked_matches,
    assert_close,
    encodec_modules,
)
from tests.seanet.helpers import TINY, encodec_kwargs, from_encodec

STREAM_CONFIGS = {
    "constant": TINY,
    "reflect": replace(TINY, pad_mode="reflect"),
    "reflect-2res-snake": replace(
        TINY, pad_mode="reflect", ratios=(2, 2), n_residual_layers=2, activation="snake"
    ),
    "replicate-trueskip": replace(TINY, pad_mode="replicate", true_skip=True, lstm_layers=0),
}


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
        assert_chunked_matches(enc, x, chunk_sweeps(cfg.hop_length), 1e-5, f"T={length}")


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
    assert_causal(enc, x, (8, 21, 40), lambda t0: t0 // 8)


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
