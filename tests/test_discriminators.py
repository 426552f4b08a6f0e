from __future__ import annotations

import pytest
import torch
from torch import nn

from codec.discriminators import (
    DISCRIMINATORS,
    DiscriminatorOutput,
    MultiDiscriminator,
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    MultiScaleSTFTDiscriminator,
    build_discriminator,
)
from codec.losses import adversarial_d_loss, adversarial_g_loss, feature_matching_loss

T = 1024

# Small instances (few filters) of each discriminator, with the expected sub-names.
SMALL: dict[str, tuple[nn.Module, list[str]]] = {}


def _small() -> dict[str, tuple[nn.Module, list[str]]]:
    if not SMALL:
        torch.manual_seed(0)
        SMALL.update(
            msstft=(
                MultiScaleSTFTDiscriminator(n_ffts=(512, 256, 128), filters=4),
                ["n512", "n256", "n128"],
            ),
            mpd=(
                MultiPeriodDiscriminator(filters=4, max_filters=16),
                ["p2", "p3", "p5", "p7", "p11"],
            ),
            msd=(MultiScaleDiscriminator(filters=4, max_filters=16), ["s0", "s1", "s2"]),
            mrd=(MultiResolutionDiscriminator(n_ffts=(512, 256), filters=4), ["n512", "n256"]),
        )
    return SMALL


@pytest.mark.parametrize("name", ["msstft", "mpd", "msd", "mrd"])
def test_output_shapes_and_counts(name: str) -> None:
    disc, names = _small()[name]
    out = disc(torch.randn(2, 1, T))
    assert isinstance(out, DiscriminatorOutput)
    assert len(out) == len(out.features) == len(names)
    assert out.names == names == disc.names
    for logit, feats in zip(out.logits, out.features):
        assert logit.shape[0] == 2 and logit.shape[1] == 1 and logit.numel() > 2
        assert len(feats) >= 4 and all(f.shape[0] == 2 for f in feats)
        assert all(f.shape[1] > 1 for f in feats)  # hidden layers, not the logits


def test_specific_shapes() -> None:
    x = torch.randn(2, 1, T)
    mpd = _small()["mpd"][0](x)
    for logit, period in zip(mpd.logits, (2, 3, 5, 7, 11)):
        assert logit.shape[-1] == period
    msd = _small()["msd"][0](x)
    lengths = [lg.shape[-1] for lg in msd.logits]
    assert lengths[0] > lengths[1] > lengths[2]  # each scale pools by 2
    mrd = _small()["mrd"][0](x)
    frames = [lg.shape[2] for lg in mrd.logits]
    assert frames == [T // 128 + 1, T // 64 + 1]


def test_odd_length_input() -> None:
    out = _small()["mpd"][0](torch.randn(1, 1, 1001))
    assert len(out) == 5


@pytest.mark.parametrize("name", ["msstft", "mpd", "msd", "mrd"])
def test_gradients_flow(name: str) -> None:
    disc, _ = _small()[name]
    disc.zero_grad()
    real = torch.randn(1, 1, T)
    fake = torch.randn(1, 1, T, requires_grad=True)
    out_real, out_fake = disc(real), disc(fake)
    # (lsgan: with hinge and all logits in (-1, 1) the output biases get exactly zero grad)
    d_loss = adversarial_d_loss(out_real.logits, out_fake.logits, "lsgan")
    d_loss.backward(retain_graph=True)
    with_grad = [p for p in disc.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert len(with_grad) == len(list(disc.parameters()))
    g_loss = adversarial_g_loss(out_fake.logits, "hinge") + feature_matching_loss(
        out_real.features, out_fake.features
    )
    g_loss.backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_weight_norm_is_applied() -> None:
    disc = MultiPeriodDiscriminator(periods=(2,), filters=4, max_filters=8)
    names = [n for n, _ in disc.named_parameters()]
    assert any("parametrizations.weight.original0" in n for n in names)
    plain = MultiPeriodDiscriminator(periods=(2,), filters=4, max_filters=8, norm="none")
    assert not any("parametrizations" in n for n, _ in plain.named_parameters())
    msd = MultiScaleDiscriminator(scales=2, filters=4, max_filters=8, first_norm="spectral_norm")
    assert any("original" in n and "discs.0" in n for n, _ in msd.named_parameters())


def test_multi_discriminator_concatenates() -> None:
    small = _small()
    multi = MultiDiscriminator({"mpd": small["mpd"][0], "msstft": small["msstft"][0]})
    out = multi(torch.randn(1, 1, T))
    assert len(out) == 8 and len(out.features) == 8
    assert out.names == multi.names
    assert out.names[:2] == ["mpd/p2", "mpd/p3"] and out.names[-1] == "msstft/n128"
    assert MultiDiscriminator({})(torch.randn(1, 1, T)).logits == []


def test_build_discriminator() -> None:
    disc = build_discriminator(
        ["mpd", "msd"], filters=4, mpd={"periods": (2, 3), "max_filters": 8}, msd={"scales": 2}
    )
    assert disc.names == ["mpd/p2", "mpd/p3", "msd/s0", "msd/s1"]
    assert len(disc(torch.randn(1, 1, 512))) == 4
    assert set(DISCRIMINATORS) == {"msstft", "mpd", "msd", "mrd"}
    assert len(build_discriminator([]).names) == 0


def test_build_errors() -> None:
    with pytest.raises(ValueError, match="unknown discriminator"):
        build_discriminator(["mpd", "hifi"])
    with pytest.raises(ValueError, match="unique"):
        build_discriminator(["mpd", "mpd"])
    with pytest.raises(ValueError, match="not requested"):
        build_discriminator(["mpd"], msd={"scales": 2})


def test_rejects_bad_input_shape() -> None:
    disc = _small()["msd"][0]
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        disc(torch.randn(2, T))
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        disc(torch.randn(2, 2, T))
