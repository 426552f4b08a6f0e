"""The causal inverse STFT: exact inverse of its own analysis, causal, streams, resets."""

from __future__ import annotations

import pytest
import torch

from codec.nn.streaming import reset_streaming, run_chunked, streaming
from codec.vocos.istft import ENVELOPE_FLOOR, CausalISTFT, causal_stft, overlap_add
from tests.nn.helpers import assert_close

# (n_fft, hop): whole multiples (shifted additions) and not (F.fold)
GEOMETRIES = [(16, 8), (32, 8), (20, 8), (640, 320)]


@pytest.mark.parametrize(("n_fft", "hop"), GEOMETRIES)
def test_reconstructs_its_own_analysis_away_from_the_start(n_fft: int, hop: int) -> None:
    """Synthesis(analysis(x)) == x wherever the envelope is above its floor: everywhere from
    ``n_fft - hop`` on (every covering frame exists), i.e. the envelope is the exact one."""
    torch.manual_seed(n_fft)
    x = torch.randn(2, 13 * hop, dtype=torch.float64)
    istft = CausalISTFT(n_fft, hop).double()
    y = istft(causal_stft(x, n_fft, hop))
    assert y.shape == (2, 1, 13 * hop)
    steady = n_fft - hop
    assert_close(y[:, 0, steady:], x[:, steady:], 1e-10)
    # The start only lacks the frames before 0: exact where the partial envelope is unclamped.
    window = torch.hann_window(n_fft, dtype=torch.float64)
    partial = overlap_add((window**2).expand(1, n_fft // hop + 1, n_fft), hop)[0, :steady]
    exact = partial >= ENVELOPE_FLOOR * float(istft.envelope[-1].min())
    assert exact.any() and not exact.all()
    assert_close(y[:, 0, :steady][:, exact], x[:, :steady][:, exact], 1e-10)


def test_start_gain_is_bounded() -> None:
    """Where the window's rising edge alone covers a sample the floor bounds the gain."""
    n_fft, hop = 32, 8
    istft = CausalISTFT(n_fft, hop)
    floor = ENVELOPE_FLOOR * float(istft.envelope[-1].min())
    spectrum = torch.fft.rfft(torch.ones(1, 1, n_fft), dim=-1).transpose(1, 2)  # a flat frame
    y = istft(spectrum)
    assert float(y.abs().max()) <= 1 / floor**0.5 + 1e-6


@pytest.mark.parametrize(("n_fft", "hop"), GEOMETRIES[:3])
@pytest.mark.parametrize("sizes", [[1], [2], [3], [0, 4, 1, 5]])
def test_streaming_equals_offline(n_fft: int, hop: int, sizes: list[int]) -> None:
    torch.manual_seed(0)
    istft = CausalISTFT(n_fft, hop)
    spectrum = causal_stft(torch.randn(2, 11 * hop), n_fft, hop)
    offline = istft(spectrum)
    assert_close(run_chunked(istft, spectrum, sizes), offline, 1e-6, f"{sizes}")
    assert_close(run_chunked(istft, spectrum, sizes, flush_with=3), offline, 1e-6, f"{sizes}")


def test_each_frame_completes_its_hop_and_only_its_past() -> None:
    """Frame t emits samples [t*hop, (t+1)*hop) at once; changing it leaves earlier ones alone."""
    n_fft, hop = 32, 8
    torch.manual_seed(0)
    istft = CausalISTFT(n_fft, hop)
    spectrum = causal_stft(torch.randn(1, 10 * hop), n_fft, hop)
    with streaming(istft, 1):
        assert [istft(spectrum[..., t : t + 1]).shape[-1] for t in range(10)] == [hop] * 10
    changed = spectrum.clone()
    changed[..., 6] *= 3
    a, b = istft(spectrum), istft(changed)
    assert torch.equal(a[..., : 6 * hop], b[..., : 6 * hop])
    assert not torch.allclose(a[..., 6 * hop :], b[..., 6 * hop :])


def test_reset_one_item_starts_a_fresh_stream() -> None:
    n_fft, hop = 24, 8
    torch.manual_seed(0)
    istft = CausalISTFT(n_fft, hop)
    spectrum = causal_stft(torch.randn(2, 12 * hop), n_fft, hop)
    with streaming(istft, 2):
        istft(spectrum[..., :5])
        reset_streaming(istft, torch.tensor([False, True]))
        after = torch.cat([istft(spectrum[..., 5:9]), istft.flush(spectrum[..., 9:])], -1)
    fresh = istft(spectrum[1:, :, 5:])
    whole = istft(spectrum[:1])[..., 5 * hop :]
    assert_close(after[1:], fresh, 1e-6)
    assert_close(after[:1], whole, 1e-6)


def test_rejects_a_window_not_longer_than_the_hop() -> None:
    with pytest.raises(ValueError, match="n_fft > hop_length"):
        CausalISTFT(8, 8)
