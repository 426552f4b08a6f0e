from __future__ import annotations

import pytest
import torch

from codec.discriminators import (
    DISCRIMINATORS,
    DiscriminatorOutput,
    MultiDiscriminator,
    build_discriminator,
)
from codec.losses import adversarial_d_loss, adversarial_g_loss, feature_matching_loss
from tests.discriminators.conftest import Small, T


@pytest.mark.parametrize("name", ["msstft", "mpd", "msd", "mrd"])
def test_output_shapes_and_counts(small: Small, name: str) -> None:
    disc, names = small[name]
    out = disc(torch.randn(2, 1, T))
    assert isinstance(out, DiscriminatorOutput)
    assert len(out) == len(out.features) == len(names)
    assert out.names == names == disc.names
    for logit, feats in zip(out.logits, out.features):
        assert logit.shape[0] == 2 and logit.shape[1] == 1 and logit.numel() > 2
        assert len(feats) >= 4 and all(f.shape[0] == 2 for f in feats)
        assert all(f.shape[1] > 1 for f in feats)  # hidden layers, not the logits


@pytest.mark.parametrize("name", ["msstft", "mpd", "msd", "mrd"])
def test_gradients_flow(small: Small, name: str) -> None:
    disc, _ = small[name]
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


def test_multi_discriminator_concatenates(small: Small) -> None:
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
    assert set(DISCRIMINATORS) == {"msstft", "mpd", "msd", "mrd", "hifigan_mpd", "hifigan_msd"}
    assert len(build_discriminator([]).names) == 0


def test_build_errors() -> None:
    with pytest.raises(ValueError, match="unknown discriminator"):
        build_discriminator(["mpd", "hifi"])
    with pytest.raises(ValueError, match="unique"):
        build_discriminator(["mpd", "mpd"])
    with pytest.raises(ValueError, match="not requested"):
        build_discriminator(["mpd"], msd={"scales": 2})


def test_multi_rejects_bad_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        MultiDiscriminator({})(torch.randn(2, 2, T))
