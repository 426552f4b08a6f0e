"""GAN discriminators behind one interface: MS-STFT, MPD, MSD and MRD.

Every discriminator takes a waveform ``[B, 1, T]`` and returns a :class:`DiscriminatorOutput`
holding, for each of its sub-discriminators, one logits tensor and the list of its
intermediate feature maps (for feature matching), plus a name per sub-discriminator for
logging. :class:`MultiDiscriminator` concatenates any set of them, and
:func:`build_discriminator` builds one from registry names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

NormKind = Literal["weight_norm", "spectral_norm", "none"]


@dataclass
class DiscriminatorOutput:
    """Result of a discriminator on a batch.

    Attributes:
        logits: one tensor per sub-discriminator (shapes differ, batch first).
        features: per sub-discriminator, its feature maps in layer order.
        names: one label per sub-discriminator (e.g. ``"mpd/p2"``), for logging.
    """

    logits: list[Tensor]
    features: list[list[Tensor]]
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.logits)


def _norm(module: nn.Module, norm: NormKind) -> nn.Module:
    if norm == "weight_norm":
        return parametrizations.weight_norm(module)
    if norm == "spectral_norm":
        return parametrizations.spectral_norm(module)
    if norm == "none":
        return module
    raise ValueError(f"unknown norm {norm!r}; expected weight_norm, spectral_norm or none")


def _check_wav(x: Tensor) -> Tensor:
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"discriminators expect a waveform [B, 1, T], got {tuple(x.shape)}")
    return x


def _run_convs(
    convs: nn.ModuleList, post: nn.Module, z: Tensor, slope: float
) -> tuple[Tensor, list[Tensor]]:
    """Apply ``convs`` with leaky ReLU, collecting features, then the output conv (whose
    logits are not repeated among the features)."""
    feats: list[Tensor] = []
    for conv in convs:
        z = F.leaky_relu(conv(z), slope)
        feats.append(z)
    return post(z), feats


def _complex_stft(x: Tensor, n_fft: int, hop: int, window: Tensor, normalized: bool) -> Tensor:
    """``[B, 1, T]`` -> complex ``[B, F, N]`` (zero padded to centre the frames)."""
    return torch.stft(
        x.squeeze(1),
        n_fft=n_fft,
        hop_length=hop,
        win_length=window.numel(),
        window=window,
        center=True,
        pad_mode="constant",
        normalized=normalized,
        return_complex=True,
    )


class STFTDiscriminator(nn.Module):
    """One scale of EnCodec's MS-STFT discriminator on the complex spectrogram.

    Real and imaginary parts form 2 input channels of a 2D conv stack over ``[time, freq]``,
    with dilation growing along time and stride 2 along frequency.
    """

    window: Tensor

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        kernel_size: tuple[int, int] = (3, 9),
        dilations: Sequence[int] = (1, 2, 4),
        norm: NormKind = "weight_norm",
        normalized: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length or n_fft // 4
        self.normalized = normalized
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        kt, kf = kernel_size
        self.convs = nn.ModuleList(
            [_norm(nn.Conv2d(2, filters, kernel_size, 1, (kt // 2, kf // 2)), norm)]
        )
        in_ch = filters
        for i, d in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            conv = nn.Conv2d(in_ch, out_ch, kernel_size, (1, 2), (d * (kt // 2), kf // 2), (d, 1))
            self.convs.append(_norm(conv, norm))
            in_ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        self.convs.append(_norm(nn.Conv2d(in_ch, out_ch, (kt, kt), 1, (kt // 2, kt // 2)), norm))
        self.post = _norm(nn.Conv2d(out_ch, 1, (kt, kt), 1, (kt // 2, kt // 2)), norm)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits ``[B, 1, N, F']`` and feature maps."""
        spec = _complex_stft(x, self.n_fft, self.hop_length, self.window, self.normalized)
        z = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, N, F]
        return _run_convs(self.convs, self.post, z, 0.2)


class _MultiBase(nn.Module):
    """A list of sub-discriminators returning ``(logits, features)`` each."""

    def __init__(self, discs: Sequence[nn.Module], names: Sequence[str]) -> None:
        super().__init__()
        self.discs = nn.ModuleList(discs)
        self.names = list(names)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``[B, 1, T]`` -> :class:`DiscriminatorOutput` with one entry per sub-discriminator."""
        x = _check_wav(x)
        logits, feats = [], []
        for disc in self.discs:
            logit, feat = disc(x)
            logits.append(logit)
            feats.append(feat)
        return DiscriminatorOutput(logits, feats, list(self.names))


class MultiScaleSTFTDiscriminator(_MultiBase):
    """EnCodec's MS-STFT discriminator: one :class:`STFTDiscriminator` per FFT size."""

    def __init__(
        self, n_ffts: Sequence[int] = (1024, 2048, 512, 256, 128), filters: int = 32, **kwargs: Any
    ) -> None:
        discs = [STFTDiscriminator(n_fft=n, filters=filters, **kwargs) for n in n_ffts]
        super().__init__(discs, [f"n{n}" for n in n_ffts])


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN period discriminator: the waveform folded into ``[T / p, p]`` and 2D convs.

    Channels grow ``filters * 4**i`` capped at ``max_filters`` (HiFi-GAN: 32 and 1024; the
    default cap 256 keeps CPU training feasible).
    """

    def __init__(
        self,
        period: int,
        filters: int = 32,
        max_filters: int = 256,
        kernel_size: int = 5,
        stride: int = 3,
        norm: NormKind = "weight_norm",
    ) -> None:
        super().__init__()
        self.period = period
        chans = [1] + [min(filters * 4**i, max_filters) for i in range(4)]
        pad = (kernel_size // 2, 0)
        self.convs = nn.ModuleList(
            _norm(nn.Conv2d(chans[i], chans[i + 1], (kernel_size, 1), (stride, 1), pad), norm)
            for i in range(4)
        )
        self.convs.append(_norm(nn.Conv2d(chans[-1], chans[-1], (kernel_size, 1), 1, pad), norm))
        self.post = _norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, (1, 0)), norm)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits ``[B, 1, T', p]`` and feature maps."""
        b, c, t = x.shape
        extra = (-t) % self.period
        if extra:
            x = F.pad(x, (0, extra), mode="reflect" if extra < t else "constant")
        z = x.view(b, c, -1, self.period)
        return _run_convs(self.convs, self.post, z, 0.1)


class MultiPeriodDiscriminator(_MultiBase):
    """HiFi-GAN's multi-period discriminator (MPD)."""

    def __init__(
        self, periods: Sequence[int] = (2, 3, 5, 7, 11), filters: int = 32, **kwargs: Any
    ) -> None:
        discs = [PeriodDiscriminator(p, filters=filters, **kwargs) for p in periods]
        super().__init__(discs, [f"p{p}" for p in periods])


class ScaleDiscriminator(nn.Module):
    """MelGAN / HiFi-GAN scale discriminator: strided, grouped 1D convs on the waveform.

    The input is first average-pooled (kernel 4, stride 2) ``n_pools`` times.
    """

    def __init__(
        self,
        filters: int = 32,
        max_filters: int = 512,
        groups: int = 16,
        n_pools: int = 0,
        norm: NormKind = "weight_norm",
    ) -> None:
        super().__init__()
        self.n_pools = n_pools
        mult = [1, 1, 2, 4, 8, 8, 8]
        chans = [1] + [min(filters * m, max_filters) for m in mult]
        # (kernel, stride, groups) per layer, as in HiFi-GAN's MSD.
        specs = [(15, 1, 1), (41, 2, 4)] + [(41, s, groups) for s in (2, 4, 4, 1)] + [(5, 1, 1)]
        self.convs = nn.ModuleList()
        for i, (k, s, g) in enumerate(specs):
            g = math.gcd(math.gcd(g, chans[i]), chans[i + 1])
            conv = nn.Conv1d(chans[i], chans[i + 1], k, s, padding=k // 2, groups=g)
            self.convs.append(_norm(conv, norm))
        self.post = _norm(nn.Conv1d(chans[-1], 1, 3, 1, padding=1), norm)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits ``[B, 1, T']`` and feature maps."""
        for _ in range(self.n_pools):
            x = F.avg_pool1d(x, 4, 2, padding=2)
        return _run_convs(self.convs, self.post, x, 0.1)


class MultiScaleDiscriminator(_MultiBase):
    """MelGAN's multi-scale discriminator (MSD): scale ``i`` sees the waveform pooled ``i`` times.

    ``first_norm`` lets the first (raw-waveform) scale use spectral norm as in HiFi-GAN.
    """

    def __init__(
        self,
        scales: int = 3,
        filters: int = 32,
        norm: NormKind = "weight_norm",
        first_norm: NormKind | None = None,
        **kwargs: Any,
    ) -> None:
        norms = [first_norm or norm] + [norm] * (scales - 1)
        discs = [
            ScaleDiscriminator(filters, n_pools=i, norm=norms[i], **kwargs) for i in range(scales)
        ]
        super().__init__(discs, [f"s{i}" for i in range(scales)])


DAC_BANDS: tuple[tuple[float, float], ...] = (
    (0.0, 0.1),
    (0.1, 0.25),
    (0.25, 0.5),
    (0.5, 0.75),
    (0.75, 1.0),
)


class ResolutionDiscriminator(nn.Module):
    """One resolution of the MRD: 2D convs over the STFT magnitude ``[time, freq]``.

    With ``bands`` (fractions of the frequency axis, e.g. :data:`DAC_BANDS`) each band gets
    its own conv stack and the stacks' outputs are joined along frequency (DAC's multi-band
    variant); ``bands=None`` uses one full-band stack (UnivNet).
    """

    window: Tensor

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        filters: int = 32,
        bands: Sequence[tuple[float, float]] | None = None,
        norm: NormKind = "weight_norm",
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length or n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        n_bins = n_fft // 2 + 1
        fracs = list(bands) if bands else [(0.0, 1.0)]
        self.edges = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in fracs]
        self.stacks = nn.ModuleList(self._stack(filters, norm) for _ in self.edges)
        self.n_layers = 5
        self.post = _norm(nn.Conv2d(filters, 1, (3, 3), 1, (1, 1)), norm)

    @staticmethod
    def _stack(filters: int, norm: NormKind) -> nn.ModuleList:
        def conv(cin: int, k: tuple[int, int], s: tuple[int, int]) -> nn.Module:
            return _norm(nn.Conv2d(cin, filters, k, s, (k[0] // 2, k[1] // 2)), norm)

        layers = [conv(1, (3, 9), (1, 1))] + [conv(filters, (3, 9), (1, 2)) for _ in range(3)]
        return nn.ModuleList([*layers, conv(filters, (3, 3), (1, 1))])

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, 1, T]`` -> logits ``[B, 1, N, F']`` and feature maps (bands joined)."""
        mag = _complex_stft(x, self.n_fft, self.hop_length, self.window, False).abs()
        mag = mag.transpose(1, 2).unsqueeze(1)  # [B, 1, N, F]
        outs = [mag[..., lo:hi] for lo, hi in self.edges]
        feats: list[Tensor] = []
        stacks = [cast(nn.ModuleList, stack) for stack in self.stacks]
        for i in range(self.n_layers):
            outs = [F.leaky_relu(stack[i](z), 0.1) for stack, z in zip(stacks, outs)]
            feats.append(torch.cat(outs, dim=-1))
        return self.post(feats[-1]), feats


class MultiResolutionDiscriminator(_MultiBase):
    """Multi-resolution STFT magnitude discriminator (UnivNet; multi-band as in DAC)."""

    def __init__(
        self,
        n_ffts: Sequence[int] = (2048, 1024, 512),
        filters: int = 32,
        bands: Sequence[tuple[float, float]] | None = DAC_BANDS,
        **kwargs: Any,
    ) -> None:
        discs = [
            ResolutionDiscriminator(n_fft=n, filters=filters, bands=bands, **kwargs) for n in n_ffts
        ]
        super().__init__(discs, [f"n{n}" for n in n_ffts])


class MultiDiscriminator(nn.Module):
    """Runs several discriminators and concatenates their outputs.

    Names in the output are ``"<key>/<sub>"`` (e.g. ``"mpd/p2"``, ``"msstft/n1024"``).
    """

    def __init__(self, discs: dict[str, nn.Module]) -> None:
        super().__init__()
        self.discs = nn.ModuleDict(discs)

    @property
    def names(self) -> list[str]:
        """One label per sub-discriminator, in output order."""
        return [f"{key}/{sub}" for key, disc in self.discs.items() for sub in _sub_names(disc)]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``[B, 1, T]`` -> concatenated :class:`DiscriminatorOutput`."""
        x = _check_wav(x)
        out = DiscriminatorOutput([], [], [])
        for key, disc in self.discs.items():
            sub: DiscriminatorOutput = disc(x)
            out.logits.extend(sub.logits)
            out.features.extend(sub.features)
            out.names.extend(f"{key}/{name}" for name in sub.names)
        return out


def _sub_names(disc: nn.Module) -> list[str]:
    names = getattr(disc, "names", None)
    return [str(n) for n in names] if isinstance(names, list) else ["0"]


DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "msstft": MultiScaleSTFTDiscriminator,
    "mpd": MultiPeriodDiscriminator,
    "msd": MultiScaleDiscriminator,
    "mrd": MultiResolutionDiscriminator,
}


def build_discriminator(
    names: list[str] | tuple[str, ...], filters: int | None = None, **sizes: Any
) -> MultiDiscriminator:
    """Build a :class:`MultiDiscriminator` from registry names (see :data:`DISCRIMINATORS`).

    Args:
        names: keys of :data:`DISCRIMINATORS`, e.g. ``["mpd", "msstft"]``; may be empty.
        filters: base channel count applied to every discriminator (unless overridden).
        sizes: per-name keyword arguments, e.g. ``mpd={"periods": (2, 3)}``.

    Raises:
        ValueError: on an unknown or repeated name, or ``sizes`` for a name not requested.
    """
    unknown = [n for n in names if n not in DISCRIMINATORS]
    if unknown:
        raise ValueError(
            f"unknown discriminator(s) {unknown}; available: {', '.join(sorted(DISCRIMINATORS))}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"discriminator names must be unique, got {list(names)}")
    stray = sorted(set(sizes) - set(names))
    if stray:
        raise ValueError(f"sizes given for discriminator(s) not requested: {stray}")
    discs: dict[str, nn.Module] = {}
    for name in names:
        kwargs = dict(sizes.get(name) or {})
        if filters is not None:
            kwargs.setdefault("filters", filters)
        discs[name] = DISCRIMINATORS[name](**kwargs)
    return MultiDiscriminator(discs)
