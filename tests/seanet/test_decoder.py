"""SEANet decoder: lengths, streaming == offline, causality, EnCodec parity, round trip."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
import torch
from torch import nn

from codec.config import SEANetConfig
from codec.nn import remove_weight_norm
from codec.nn.streaming import reset_streaming, streaming
from codec.seanet import SEANetDecoder, SEANetEncoder
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
    "reflect-2res-snake-trim": replace(
        TINY,
        pad_mode="reflect",
        ratios=(2, 2),
        n_residual_layers=2,
        activation="snake",
        trim_right_ratio=0.5,
    ),
    "replicate-trueskip": replace(TINY, pad_mode="replicate", true_skip=True, lstm_layers=0),
}


@pytest.mark.parametrize("causal", [True, False])
def test_output_length(causal: bool) -> None:
    torch.manual_seed(0)
    dec = SEANetDecoder(replace(TINY, causal=causal, pad_mode="reflect"))
    assert dec.hop_length == 8
    for frames in (1, 2, 7):
        assert dec(torch.randn(2, 8, frames)).shape == (2, 1, frames * 8)


@pytest.mark.parametrize("name", list(STREAM_CONFIGS))
def test_streaming_equals_offline(name: str) -> None:
    cfg = STREAM_CONFIGS[name]
    torch.manual_seed(0)
    dec = SEANetDecoder(cfg)
    gen = torch.Generator().manual_seed(1)
    rand = [int(v) for v in torch.randint(0, 5, (10,), generator=gen)]
    for frames in (1, 3, 11):
        z = torch.randn(2, 8, frames)
        assert_chunked_matches(dec, z, ([1], [2], [3], [5], rand), 1e-5, f"F={frames}")


def test_zero_latency_with_zero_padding() -> None:
    torch.manual_seed(0)
    dec = SEANetDecoder(TINY)
    z = torch.randn(1, 8, 6)
    with dec.streaming(1):
        assert all(dec(z[..., f : f + 1]).shape[-1] == 8 for f in range(6))
        assert dec.flush().shape[-1] == 0


def test_causality() -> None:
    torch.manual_seed(0)
    dec = SEANetDecoder(TINY)
    z = torch.randn(1, 8, 9)
    assert_causal(dec, z, (1, 4, 8), lambda f0: f0 * 8)


def test_non_causal_refuses_streaming() -> None:
    dec = SEANetDecoder(replace(TINY, causal=False))
    with pytest.raises(ValueError, match="non-causal model cannot stream"), streaming(dec, 1):
        pass


def test_input_shape_checked() -> None:
    with pytest.raises(ValueError, match=r"\[B, 8, T\]"):
        SEANetDecoder(TINY)(torch.randn(1, 4, 3))


def test_streaming_round_trip_with_weight_norm_removed() -> None:
    torch.manual_seed(0)
    cfg = STREAM_CONFIGS["reflect"]
    enc, dec = SEANetEncoder(cfg), SEANetDecoder(cfg)
    x = torch.randn(1, 1, 45)
    ref = dec(enc(x))
    assert ref.shape == (1, 1, 48)
    remove_weight_norm(enc)
    remove_weight_norm(dec)
    outs = []
    with enc.streaming(1), dec.streaming(1):
        for start in range(0, 45, 7):
            outs.append(dec(enc(x[..., start : start + 7])))
        outs.append(dec.flush(enc.flush()))
    assert_close(torch.cat(outs, dim=-1), ref, 1e-5)


@pytest.mark.parametrize(
    "cfg",
    [
        replace(TINY, pad_mode="reflect", n_residual_layers=2, lstm_layers=2),
        replace(TINY, true_skip=True, trim_right_ratio=0.5),
        replace(TINY, causal=False, pad_mode="reflect", ratios=(5, 2)),
    ],
    ids=["causal-reflect", "causal-constant-trim", "noncausal"],
)
def test_matches_encodec(cfg: SEANetConfig) -> None:
    em = encodec_modules()
    torch.manual_seed(0)
    kwargs = encodec_kwargs(cfg) | {"trim_right_ratio": cfg.trim_right_ratio}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = em.SEANetDecoder(**kwargs)
    ours = SEANetDecoder(cfg)
    ours.load_state_dict(from_encodec(ref.state_dict()))
    for frames in (1, 4, 9):
        z = torch.randn(2, 8, frames)
        assert_close(ours(z), ref(z), 1e-5)


def test_offline_training_path_has_gradients() -> None:
    torch.manual_seed(0)
    cfg = replace(STREAM_CONFIGS["reflect"], channels=2)
    enc, dec = SEANetEncoder(cfg), SEANetDecoder(cfg)
    x = torch.randn(2, 2, 30)
    y = dec(enc(x))
    assert y.shape == (2, 2, 32)
    (y[..., :30] - x).pow(2).mean().backward()
    params = [*enc.parameters(), *dec.parameters()]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_reset_one_item_mid_stream() -> None:
    """Two streams in one batch: item 0 restarts at sample 24 (a frame boundary), item 1 runs on.

    Item 0's later outputs equal a fresh stream of what follows; item 1's its uninterrupted one.
    """
    torch.manual_seed(0)
    enc, dec = SEANetEncoder(TINY), SEANetDecoder(TINY)
    x = torch.randn(2, 1, 64)
    before, after = [(0, 13), (13, 24)], [(24, 37), (37, 50)]
    outs = []
    with enc.streaming(2), dec.streaming(2):
        for start, end in before:
            dec(enc(x[..., start:end]))
        reset_streaming(enc, torch.tensor([True, False]))
        dec.reset_streaming(torch.tensor([True, False]))  # the container method
        for start, end in after:
            outs.append(dec(enc(x[..., start:end])))
        outs.append(dec.flush(enc.flush(x[..., 50:])))
    got = torch.cat(outs, dim=-1)
    assert_close(got[:1], dec(enc(x[:1, :, 24:])), 1e-5, "reset item")
    assert_close(got[1:], dec(enc(x[1:]))[..., 24:], 1e-5, "untouched item")


@pytest.mark.parametrize(
    ("cfg", "at", "match"),
    [
        (TINY, 20, "multiple of the stride"),
        (replace(TINY, pad_mode="reflect"), 24, "pad_mode"),
        (replace(TINY, trim_right_ratio=0.5), 24, "trim_right_ratio"),
    ],
    ids=["off-frame", "reflect", "left-trim"],
)
def test_reset_one_item_refused_when_inexact(cfg: SEANetConfig, at: int, match: str) -> None:
    torch.manual_seed(0)
    enc, dec = SEANetEncoder(cfg), SEANetDecoder(cfg)
    x = torch.randn(2, 1, 48)
    both = nn.ModuleList([enc, dec])  # one reset call: checked as a whole before any change
    with enc.streaming(2), dec.streaming(2):
        outs = [dec(enc(x[..., :at]))]
        with pytest.raises(ValueError, match=match):
            reset_streaming(both, torch.tensor([True, False]))
        outs.append(dec(enc(x[..., at:])))  # refused before any change: both streams go on
        outs.append(dec.flush(enc.flush()))
    assert_close(torch.cat(outs, dim=-1), dec(enc(x)), 1e-5)
