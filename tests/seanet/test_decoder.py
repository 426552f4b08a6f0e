"""SEANet decoder: lengths, streaming == offline, causality, EnCodec parity, round trip."""

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
from codec.nn.streaming import run_chunked, streaming
from codec.seanet import SEANetDecoder, SEANetEncoder


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
        ref = dec(z)
        for sizes in ([1], [2], [3], [5], rand):
            got = run_chunked(dec, z, sizes)
            assert_close(got, ref, 1e-5, f"F={frames} {sizes}")


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
    for f0 in (1, 4, 8):
        w = z.clone()
        w[..., f0:] = torch.randn_like(w[..., f0:])
        past = f0 * 8
        assert_close(dec(z)[..., :past], dec(w)[..., :past], 0)


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
    kwargs = dict(
        channels=cfg.channels,
        dimension=cfg.dimension,
        n_filters=cfg.n_filters,
        n_residual_layers=cfg.n_residual_layers,
        ratios=list(cfg.ratios),
        causal=cfg.causal,
        pad_mode=cfg.pad_mode,
        true_skip=cfg.true_skip,
        lstm=cfg.lstm_layers,
        trim_right_ratio=cfg.trim_right_ratio,
    )
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
