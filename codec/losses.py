"""Training losses: multi-scale mel, multi-resolution STFT, compressed complex STFT, waveform L1,
adversarial and feature matching (EnCodec's gradient balancer is in `codec/balancer.py`).

Waveforms are ``[B, 1, T]`` (or ``[B, T]``). Where a loss accepts ``lengths`` (``[B]``, valid
samples per item), samples at or beyond an item's length are zeroed in both signals and the
frames / samples they start do not count in the mean, so padding never changes the loss.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from codec.audio.mel import mel_filterbank
from codec.choices import ADVERSARIAL_KINDS, AdversarialKind
from codec.inputs import mono_batch

DEFAULT_MEL_WINDOWS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
DEFAULT_MEL_BINS: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)
DEFAULT_STFT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
DEFAULT_COMPLEX_WINDOWS: tuple[int, ...] = (256, 512, 1024)


def _pair(x: Tensor, y: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
    """Flatten both signals to ``[B, T]`` and zero the samples beyond ``lengths``."""
    x, y = mono_batch(x), mono_batch(y)
    if x.shape != y.shape:
        raise ValueError(f"signals differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if lengths is not None:
        mask = sample_mask(lengths, x.shape[-1]).to(x.dtype)
        x, y = x * mask, y * mask
    return x, y


def sample_mask(lengths: Tensor, size: int, hop: int = 1) -> Tensor:
    """``[B]`` lengths in samples -> bool ``[B, size]``; position ``i`` is valid if ``i * hop <
    length`` (with ``hop`` > 1 this masks frames of centred STFTs by their centre sample)."""
    steps = torch.arange(size, device=lengths.device) * hop
    return steps[None, :] < lengths[:, None]


def _masked_mean(values: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of ``values [B, ..., N]`` over the positions where ``mask [B, N]`` is true."""
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype).view(mask.shape[0], *([1] * (values.dim() - 2)), mask.shape[1])
    m = m.expand_as(values)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def _stft_magnitude(x: Tensor, n_fft: int, hop: int, win: int | None = None) -> Tensor:
    """``[B, T]`` -> ``|STFT|`` ``[B, n_fft // 2 + 1, N]`` (Hann window, centred, zero padded)."""
    win = win or n_fft
    window = torch.hann_window(win, device=x.device, dtype=x.dtype)
    spec = torch.stft(
        x, n_fft, hop, win, window, center=True, pad_mode="constant", return_complex=True
    )
    return spec.abs()


@functools.lru_cache(maxsize=64)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> Tensor:
    return mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)


def mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """Slaney mel filterbank ``[n_mels, n_fft // 2 + 1]`` (cached, float32; see codec/audio/mel.py)."""
    return _mel_basis(sample_rate, n_fft, n_mels, float(f_min), float(f_max or sample_rate / 2))


class MelSpectrogram(nn.Module):
    """Log-mel spectrogram with ``torch.stft`` and a Slaney mel filterbank (no torchaudio).

    ``forward``: ``[B, 1, T]`` or ``[B, T]`` -> ``[B, n_mels, N]`` with ``N = T // hop + 1``
    (natural log of the magnitude mel energies clamped at ``eps``; linear if ``log=False``).
    """

    filters: Tensor
    window: Tensor

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        log: bool = True,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length or n_fft // 4
        self.log, self.eps = log, eps
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = mel_filters(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("filters", fb.clone(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = mono_batch(x)
        spec = torch.stft(
            x,
            self.n_fft,
            self.hop_length,
            window=self.window.to(x.dtype),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        mel = torch.matmul(self.filters.to(x.dtype), spec.abs())
        return torch.log(mel.clamp_min(self.eps)) if self.log else mel


def multiscale_mel_loss(
    x: Tensor,
    y: Tensor,
    sample_rate: int,
    lengths: Tensor | None = None,
    windows: Sequence[int] = DEFAULT_MEL_WINDOWS,
    n_mels: Sequence[int] = DEFAULT_MEL_BINS,
    l2_weight: float = 0.0,
    eps: float = 1e-5,
) -> Tensor:
    """L1 distance between log-mel spectrograms at several window sizes (hop = window / 4),
    averaged over scales; ``l2_weight > 0`` adds EnCodec's L2 term on the same log-mels.

    Args:
        x, y: estimate and reference ``[B, 1, T]``.
        lengths: ``[B]`` valid samples; padded frames do not count.
    Returns:
        scalar tensor.
    """
    if len(windows) != len(n_mels):
        raise ValueError(f"windows {list(windows)} and n_mels {list(n_mels)} differ in length")
    x, y = _pair(x, y, lengths)
    total = x.new_zeros(())
    for win, bins in zip(windows, n_mels):
        hop = max(win // 4, 1)
        fb = mel_filters(sample_rate, win, bins).to(x.device, x.dtype)
        mx = torch.log(torch.matmul(fb, _stft_magnitude(x, win, hop)).clamp_min(eps))
        my = torch.log(torch.matmul(fb, _stft_magnitude(y, win, hop)).clamp_min(eps))
        mask = None if lengths is None else sample_mask(lengths, mx.shape[-1], hop)
        diff = mx - my
        total = total + _masked_mean(diff.abs(), mask)
        if l2_weight > 0:
            total = total + l2_weight * _masked_mean(diff.square(), mask).sqrt()
    return total / len(windows)


class MultiScaleMelLoss(nn.Module):
    """Module form of :func:`multiscale_mel_loss` holding its configuration."""

    def __init__(
        self,
        sample_rate: int,
        windows: Sequence[int] = DEFAULT_MEL_WINDOWS,
        n_mels: Sequence[int] = DEFAULT_MEL_BINS,
        l2_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.sample_rate, self.l2_weight = sample_rate, l2_weight
        self.windows, self.n_mels = tuple(windows), tuple(n_mels)

    def forward(self, x: Tensor, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``[B, 1, T]`` x2 -> scalar."""
        return multiscale_mel_loss(
            x, y, self.sample_rate, lengths, self.windows, self.n_mels, self.l2_weight
        )


def stft_loss(
    x: Tensor, y: Tensor, n_fft: int, hop_length: int, lengths: Tensor | None = None
) -> Tensor:
    """Spectral convergence + L1 of log magnitudes at one resolution (Parallel WaveGAN).

    ``x``, ``y``: ``[B, 1, T]``; returns a scalar (0 for identical inputs).
    """
    x, y = _pair(x, y, lengths)
    mx, my = _stft_magnitude(x, n_fft, hop_length), _stft_magnitude(y, n_fft, hop_length)
    mask = None if lengths is None else sample_mask(lengths, mx.shape[-1], hop_length)
    sq_err = _masked_mean((my - mx).square(), mask)
    sq_ref = _masked_mean(my.square(), mask)
    convergence = (sq_err / sq_ref.clamp_min(1e-12)).sqrt()
    log_mag = _masked_mean((my.clamp_min(1e-5).log() - mx.clamp_min(1e-5).log()).abs(), mask)
    return convergence + log_mag


def multi_resolution_stft_loss(
    x: Tensor,
    y: Tensor,
    lengths: Tensor | None = None,
    resolutions: Sequence[tuple[int, int]] = DEFAULT_STFT_RESOLUTIONS,
) -> Tensor:
    """Mean of :func:`stft_loss` over ``(n_fft, hop)`` resolutions; scalar."""
    losses = [stft_loss(x, y, n_fft, hop, lengths) for n_fft, hop in resolutions]
    return torch.stack(losses).mean()


def l1_loss(x: Tensor, y: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Mean absolute waveform difference over valid samples; ``[B, 1, T]`` x2 -> scalar."""
    x, y = _pair(x, y, lengths)
    mask = None if lengths is None else sample_mask(lengths, x.shape[-1])
    return _masked_mean((x - y).abs(), mask)


def _compressed_complex(x: Tensor, n_fft: int, hop: int, power: float) -> Tensor:
    """``[B, T]`` -> STFT with magnitudes raised to ``power``, phases kept, as real
    ``[B, F, N, 2]``; the ``1e-8`` floor keeps the gradient finite at zero magnitude."""
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(
        x, n_fft, hop, n_fft, window, center=True, pad_mode="constant", return_complex=True
    )
    spec = torch.view_as_real(spec)
    magnitude = spec.square().sum(-1, keepdim=True).add(1e-8).sqrt()
    return spec * magnitude.pow(power - 1.0)


def complex_stft_loss(
    x: Tensor,
    y: Tensor,
    lengths: Tensor | None = None,
    windows: Sequence[int] = DEFAULT_COMPLEX_WINDOWS,
    power: float = 0.3,
) -> Tensor:
    """L1 between power-law-compressed complex STFTs (real and imaginary parts), averaged over
    window sizes (hop = window / 4): unlike magnitude losses it penalises phase errors, which
    set intelligibility (STOI) once the magnitudes are right. ``[B, 1, T]`` x2 -> scalar."""
    x, y = _pair(x, y, lengths)
    total = x.new_zeros(())
    for win in windows:
        hop = max(win // 4, 1)
        cx = _compressed_complex(x, win, hop, power)
        cy = _compressed_complex(y, win, hop, power)
        mask = None if lengths is None else sample_mask(lengths, cx.shape[-2], hop)
        diff = (cx - cy).abs().sum(-1)
        total = total + _masked_mean(diff, mask)
    return total / len(windows)


def pitch_loss(f0: Tensor, target: Tensor, voiced: Tensor) -> Tensor:
    """Mean ``|log f0 - log target|`` (natural log: 0.06 is a semitone) over the voiced frames
    (``[B, F]`` each; f0 in Hz); 0 without any voiced frame. Frames past the shorter of the two
    are ignored (the decoder may have one frame more than the input's frames)."""
    n = min(f0.shape[-1], target.shape[-1])
    f0, target, voiced = f0[..., :n], target[..., :n], voiced[..., :n]
    error = (f0.clamp(min=1e-3).log() - target.clamp(min=1e-3).log()).abs()
    weight = voiced.to(error.dtype)
    return (error * weight).sum() / weight.sum().clamp(min=1.0)


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(
            f"unknown adversarial loss {kind!r}; expected one of {', '.join(ADVERSARIAL_KINDS)}"
        )


def adversarial_g_loss(logits: Sequence[Tensor], kind: AdversarialKind | str = "hinge") -> Tensor:
    """Generator loss on the discriminators' logits for generated audio, averaged over them.

    hinge: ``mean(relu(1 - D(x_hat)))`` (EnCodec); lsgan: ``mean((1 - D(x_hat))**2)``.
    """
    _check_kind(kind)
    if not logits:
        raise ValueError("adversarial_g_loss needs at least one logits tensor")
    if kind == "hinge":
        terms = [F.relu(1 - lg).mean() for lg in logits]
    else:
        terms = [(1 - lg).square().mean() for lg in logits]
    return torch.stack(terms).mean()


def adversarial_d_loss(
    real_logits: Sequence[Tensor],
    fake_logits: Sequence[Tensor],
    kind: AdversarialKind | str = "hinge",
) -> Tensor:
    """Discriminator loss, averaged over discriminators.

    hinge: ``relu(1 - D(x)) + relu(1 + D(x_hat))``; lsgan: ``(1 - D(x))**2 + D(x_hat)**2``.
    """
    _check_kind(kind)
    if len(real_logits) != len(fake_logits) or not real_logits:
        raise ValueError(f"got {len(real_logits)} real and {len(fake_logits)} fake logits")
    terms = []
    for real, fake in zip(real_logits, fake_logits):
        if kind == "hinge":
            terms.append(F.relu(1 - real).mean() + F.relu(1 + fake).mean())
        else:
            terms.append((1 - real).square().mean() + fake.square().mean())
    return torch.stack(terms).mean()


def feature_matching_loss(
    real_features: Sequence[Sequence[Tensor]],
    fake_features: Sequence[Sequence[Tensor]],
    relative: bool = True,
    eps: float = 1e-8,
) -> Tensor:
    """Mean over discriminators and layers of ``mean|f_real - f_fake|``, divided by
    ``mean|f_real|`` when ``relative`` (EnCodec). Real features are detached."""
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError("real and fake features must list the same, non-zero number of discs")
    terms = []
    for reals, fakes in zip(real_features, fake_features):
        if len(reals) != len(fakes):
            raise ValueError(f"layer count differs: {len(reals)} real vs {len(fakes)} fake")
        for real, fake in zip(reals, fakes):
            real = real.detach()
            term = (real - fake).abs().mean()
            terms.append(term / (real.abs().mean() + eps) if relative else term)
    return torch.stack(terms).mean()
