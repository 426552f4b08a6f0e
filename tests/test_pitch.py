"""YIN pitch tracking: the difference function, its normalisation, f0 of tones, voicing."""

from __future__ import annotations

import math

import pytest
import torch

from codec.pitch import cumulative_mean_normalized, difference_function, parabola_offset, yin

SR, HOP, FRAME = 16000, 320, 640


def harmonic_tone(f0: float, seconds: float = 1.0, phase: float = 0.3) -> torch.Tensor:
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    parts = [0.8**k * torch.sin(2 * math.pi * k * f0 * t + k * phase) for k in range(1, 8)]
    return (sum(parts) * 0.2).float()[None]  # type: ignore[union-attr]


def test_difference_function_matches_its_definition() -> None:
    torch.manual_seed(0)
    frames = torch.randn(3, 64, dtype=torch.float64)
    got = difference_function(frames, 20)
    width = 64 - 20
    for tau in (0, 1, 7, 20):
        want = (frames[:, :width] - frames[:, tau : tau + width]).square().sum(-1)
        assert torch.allclose(got[:, tau], want, atol=1e-9), tau


def test_normalised_difference_starts_at_one_and_dips_at_the_period() -> None:
    x = harmonic_tone(200.0)[0, :FRAME].double()
    dn = cumulative_mean_normalized(difference_function(x, 200))
    assert dn[0] == 1.0
    assert int(dn[40:].argmin()) + 40 == 80  # 16000 / 200
    assert dn[80] < 0.05


@pytest.mark.parametrize("f0", [62.0, 110.0, 137.3, 233.0, 410.0])
def test_f0_of_harmonic_tones_within_a_fifth_of_a_semitone(f0: float) -> None:
    pitch = yin(harmonic_tone(f0), SR, HOP, FRAME)
    inner = slice(2, -3)  # frames past the end are zero-padded
    assert pitch.voiced[0, inner].all()
    cents = 1200 * torch.log2(pitch.f0[0, inner] / f0).abs()
    assert float(cents.max()) < 20, float(cents.max())


def test_noise_and_silence_are_unvoiced() -> None:
    torch.manual_seed(0)
    noise = torch.randn(1, SR) * 0.1
    assert not yin(noise, SR, HOP, FRAME).voiced.any()
    tone_then_silence = torch.cat([harmonic_tone(150.0, 0.5), torch.zeros(1, SR // 2)], dim=-1)
    pitch = yin(tone_then_silence, SR, HOP, FRAME)
    assert pitch.voiced[0, 2:20].all() and not pitch.voiced[0, 27:].any()
    assert (pitch.f0[~pitch.voiced] == 0).all()


def test_frames_follow_the_causal_stft() -> None:
    """ceil(T / hop) frames, batch items independent, dtype kept."""
    x = torch.cat([harmonic_tone(120.0), harmonic_tone(300.0)])[:, :4001]
    pitch = yin(x, SR, HOP, FRAME)
    assert pitch.f0.shape == (2, 13) and pitch.f0.dtype == torch.float32
    alone = yin(x[1:], SR, HOP, FRAME)
    assert torch.equal(pitch.f0[1:], alone.f0)


def test_too_short_a_frame_for_the_lag_range_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="too short"):
        difference_function(torch.zeros(1, 10), 10)


def test_offset_moves_the_frames_back() -> None:
    """offset = n_fft - hop gives the spectral encoder's frames (ending at (t + 1) * hop)."""
    x = torch.cat([torch.zeros(1, 3200), harmonic_tone(200.0)], dim=-1)
    plain = yin(x, SR, HOP, FRAME)
    early = yin(x, SR, HOP, FRAME, offset=FRAME - HOP)
    assert plain.f0.shape == early.f0.shape
    # frame t with the offset sees what frame t - 1 sees without it
    assert torch.equal(early.voiced[0, 1:30], plain.voiced[0, :29])


def test_parabola_offset_finds_the_vertex_and_stays_within_half_a_sample() -> None:
    vertex = torch.tensor([-0.3, 0.0, 0.45])
    a, b, c = ((s - vertex).square() * 2.0 + 1.0 for s in (-1.0, 0.0, 1.0))
    assert torch.allclose(parabola_offset(a, b, c), vertex, atol=1e-6)
    assert torch.allclose(parabola_offset(-a, -b, -c), vertex, atol=1e-6)  # a peak, too
    line = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0]), torch.tensor([3.0, 2.0])
    assert parabola_offset(*line).tolist() == [0.0, 0.0]  # collinear: no vertex
    far = parabola_offset(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([3.0]))
    assert far.tolist() == [-0.5]  # the vertex beyond the neighbour is clamped


def test_tolerance_reaches_the_tracker() -> None:
    # The true period is 10 ms (a faint 100 Hz part); with no dip under the threshold, a wide
    # tolerance takes the first dip (5 ms, the loud 200 Hz part), none the deepest (10 ms).
    t = torch.arange(SR, dtype=torch.float64) / SR
    x = (torch.sin(2 * math.pi * 200 * t) + 0.05 * torch.sin(2 * math.pi * 100 * t)).float()
    first = yin(x[None], SR, HOP, FRAME, threshold=0.0, tolerance=1.0).f0[0, 2:-3]
    deepest = yin(x[None], SR, HOP, FRAME, threshold=0.0, tolerance=0.0).f0[0, 2:-3]
    assert torch.allclose(first, torch.full_like(first, 200.0), rtol=0.01)
    assert torch.allclose(deepest, torch.full_like(deepest, 100.0), rtol=0.01)
