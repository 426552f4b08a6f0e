"""CodecModule unit tests: non-finite guard, schedules, generator/discriminator stepping."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from codec.data.collate import AudioBatch
from codec.lightning.config import DiscriminatorConfig, LossConfig, OptimConfig
from codec.lightning.module import CodecModule, NonFiniteLossError, lr_lambda
from codec.quantize import QuantizerOutput
from tests.lightning.conftest import tiny_codec_config

# the tiny model of the debug experiment, hop 8, random-init codebooks (no k-means)
TINY = ("model.seanet.ratios=[4,2]", "model.quantizer.codebook.kmeans_init=false")


def batches(poisoned: set[int], count: int) -> list[AudioBatch]:
    torch.manual_seed(0)
    out = []
    for i in range(count):
        wav = torch.randn(2, 1, 256) * 0.1
        if i in poisoned:
            wav[0, 0, 10] = float("nan")
        out.append(AudioBatch(wav, torch.tensor([256, 200]), torch.arange(2)))
    return out


def make_module(
    max_nonfinite: int = 5,
    disc: list[str] | None = None,
    loss: LossConfig | None = None,
    overrides: tuple[str, ...] = (),
    accumulate: int = 1,
) -> CodecModule:
    config = tiny_codec_config(*TINY, *overrides)
    torch.manual_seed(0)
    return CodecModule(
        config,
        DiscriminatorConfig(names=disc if disc is not None else ["msd"], filters=2),
        loss or LossConfig(mel_windows=[32, 64]),
        OptimConfig(warmup_steps=1, max_nonfinite=max_nonfinite),
        max_steps=10,
        accumulate=accumulate,
    )


def fit(module: CodecModule, data: list[AudioBatch], max_steps: int) -> L.Trainer:
    trainer = L.Trainer(
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
    return trainer


def test_guard_skips_a_poisoned_batch() -> None:
    module = make_module()
    trainer = fit(module, batches({1}, 4), max_steps=3)
    assert int(module.nonfinite_total) == 1
    assert trainer.global_step == 3  # 4 batches, one skipped: no optimiser step for it
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_guard_stops_after_too_many_in_a_row() -> None:
    module = make_module(max_nonfinite=2)
    with pytest.raises(NonFiniteLossError, match="2 consecutive"):
        fit(module, batches({0, 1, 2}, 3), max_steps=10)


def test_generator_and_discriminator_both_update_and_step_counts_generator() -> None:
    module = make_module()
    before_g = [p.detach().clone() for p in module.codec.decoder.parameters()]
    assert module.disc is not None
    before_d = [p.detach().clone() for p in module.disc.parameters()]
    trainer = fit(module, batches(set(), 3), max_steps=3)
    assert trainer.global_step == 3
    assert any(not torch.equal(a, b) for a, b in zip(before_g, module.codec.decoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, module.disc.parameters()))


def test_quantizer_losses_are_logged_raw_and_weighted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loss = LossConfig(mel_windows=[32, 64], commit=0.25, codebook=2.0)
    module = make_module(disc=[], loss=loss, overrides=("model.quantizer.codebook.ema=false",))
    raw: list[dict[str, torch.Tensor]] = []

    def record(mod: torch.nn.Module, args: object, out: QuantizerOutput) -> None:
        raw.append({k: v.detach() for k, v in out.losses.items()})

    module.codec.quantizer.register_forward_hook(record)
    logged: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(module, "log", lambda key, value, **kw: logged.__setitem__(key, value))
    fit(module, batches(set(), 1), max_steps=1)
    (terms,) = raw
    assert set(terms) == {"vq/commit", "vq/codebook"}
    for key, value in terms.items():  # the logs show the quantizer's own, unweighted terms
        assert torch.equal(logged[key], value), key
    expected = loss.mel * logged["g/mel"] + 0.25 * terms["vq/commit"] + 2.0 * terms["vq/codebook"]
    assert torch.allclose(logged["g/total"], expected, rtol=1e-6, atol=0.0)


def test_optional_reconstruction_terms_are_logged_and_weighted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """loss.l1 / complex_stft / stft > 0 each add their term, logged raw, weighted once."""
    loss = LossConfig(mel_windows=[32, 64], l1=2.0, complex_stft=3.0, stft=4.0, commit=0.5)
    module = make_module(disc=[], loss=loss)
    logged: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(module, "log", lambda key, value, **kw: logged.__setitem__(key, value))
    fit(module, batches(set(), 1), max_steps=1)
    for key in ("g/l1", "g/complex_stft", "g/stft"):
        assert float(logged[key]) > 0, key
    expected = (
        loss.mel * logged["g/mel"]
        + 2.0 * logged["g/l1"]
        + 3.0 * logged["g/complex_stft"]
        + 4.0 * logged["g/stft"]
        + 0.5 * logged["vq/commit"]
    )
    assert torch.allclose(logged["g/total"], expected, rtol=1e-6, atol=0.0)
    assert make_module(disc=[]).loss_weights()["g/stft"] == 0.0  # off unless asked for


def test_lr_schedule() -> None:
    assert lr_lambda(0, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_lambda(9, 10, 100, "cosine", 0.1) == pytest.approx(1.0)
    assert lr_lambda(100, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    mid = lr_lambda(55, 10, 100, "cosine", 0.0)
    assert mid == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_lambda(50, 0, 100, "none", 0.1) == 1.0
    with pytest.raises(ValueError, match="decay"):
        lr_lambda(50, 0, 100, "bogus", 0.1)


def test_perceptual_validation_metrics() -> None:
    from codec.data.synthetic import synthetic_speech
    from codec.lightning.module import perceptual_metrics

    speech = synthetic_speech(3.0, 16000, seed=1)[None]  # [1, 1, T]
    same = perceptual_metrics(speech, speech, 16000, torch.tensor([speech.shape[-1]]))
    assert float(same["val/pesq_wb"]) > 4.0
    assert float(same["val/stoi"]) > 0.99
    noisy = speech + 0.05 * torch.randn_like(speech)
    worse = perceptual_metrics(noisy, speech, 16000, torch.tensor([speech.shape[-1]]))
    assert float(worse["val/pesq_wb"]) < float(same["val/pesq_wb"])


def test_balancer_path_trains_gradient_codebooks() -> None:
    loss = LossConfig(mel_windows=[32, 64], balancer=True, codebook=2.0)
    module = make_module(disc=[], loss=loss, overrides=("model.quantizer.codebook.ema=false",))
    embeddings = [p for n, p in module.codec.quantizer.named_parameters() if "embedding" in n]
    before = [p.detach().clone() for p in embeddings]
    fit(module, batches(set(), 2), max_steps=2)
    assert before and all(not torch.equal(a, b) for a, b in zip(before, embeddings))


def test_bypass_warmup_frames_travel_with_the_checkpoint() -> None:
    module = make_module(overrides=("model.quantizer.bypass.steps=5",))
    fit(module, batches(set(), 3), max_steps=3)  # still inside the warm-up
    rows = module.codec.quantizer.recent.rows
    assert rows is not None and rows.shape[0] > 0
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    fresh = make_module(overrides=("model.quantizer.bypass.steps=5",))
    fresh.on_load_checkpoint(checkpoint)
    assert torch.equal(fresh.codec.quantizer.recent.rows, rows)
    empty = make_module()
    assert empty.codec.quantizer.recent.rows is None
    saved: dict = {}
    empty.on_save_checkpoint(saved)
    assert "quantizer_recent" not in saved


def update_gradients(module: CodecModule) -> dict[str, dict[str, torch.Tensor]]:
    """Records, at each optimiser update, the gradients the update applies (after the mean
    over the window and clipping), keyed ``gen_batches`` / ``disc_batches``."""
    seen: dict[str, dict[str, torch.Tensor]] = {}
    window = module.window
    original = window.mean_and_clip

    def spy(model: torch.nn.Module, counter: str, max_norm: float) -> torch.Tensor:
        norm = original(model, counter, max_norm)  # type: ignore[arg-type]
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        seen.setdefault(counter, grads)  # the first update only
        return norm

    window.mean_and_clip = spy  # type: ignore[method-assign]
    return seen


def joined(data: list[AudioBatch]) -> AudioBatch:
    wav, lengths = torch.cat([b.wav for b in data]), torch.cat([b.lengths for b in data])
    return AudioBatch(wav, lengths, torch.arange(wav.shape[0]))


@pytest.mark.parametrize("disc", [[], ["msd"]], ids=["generator", "discriminator"])
def test_accumulated_update_applies_the_mean_gradient_of_its_batches(disc: list[str]) -> None:
    """Two batches accumulated into one step apply the gradients of one step on both batches
    joined: the generator's (no discriminator) and the discriminator's (the generator's differ
    with one: the first batch's adversarial loss sees the discriminator before its update).
    Gradient codebooks: EMA codebooks learn from every forward."""
    over = ("model.quantizer.codebook.ema=false",)
    counter = "disc_batches" if disc else "gen_batches"
    accumulated = make_module(disc=disc, overrides=over, accumulate=2)
    got = update_gradients(accumulated)
    trainer = fit(accumulated, batches(set(), 2), max_steps=1)
    assert trainer.global_step == 1
    single = make_module(disc=disc, overrides=over)
    want = update_gradients(single)
    fit(single, [joined(batches(set(), 2))], max_steps=1)
    assert got[counter].keys() == want[counter].keys() and want[counter]
    flat_got = torch.cat([g.flatten() for g in got[counter].values()])
    flat_want = torch.cat([g.flatten() for g in want[counter].values()])
    # float summation order differs (measured: ~1e-5 generator, ~3e-4 discriminator);
    # summed instead of averaged gradients would be twice as large
    error = (flat_got - flat_want).norm() / flat_want.norm()
    print(f"relative gradient difference: {float(error):.2e}")
    assert error < 1e-3


def test_accumulation_counts_steps_not_batches_and_skips_bad_batches() -> None:
    module = make_module(accumulate=2)
    trainer = fit(module, batches({1}, 6), max_steps=3)
    assert trainer.global_step == 3  # 6 batches, 2 per step; the poisoned one adds nothing
    assert int(module.nonfinite_total) == 1
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_harmonic_decoder_adds_a_pitch_term_towards_yin(monkeypatch: pytest.MonkeyPatch) -> None:
    """model.vocos.harmonic: g/pitch (the decoder's f0 against YIN's on the input) is logged
    raw and weighted once; a voiced input gives it a gradient into the decoder's f0 channel."""
    loss = LossConfig(mel_windows=[32, 64], pitch=3.0)
    overrides = ("model.decoder=vocos", "model.vocos.harmonic=true", "model.vocos.n_fft=64")
    module = make_module(disc=[], loss=loss, overrides=overrides)
    t = torch.arange(1600) / 16000
    tone = sum(0.7**k * torch.sin(2 * math.pi * 180 * k * t) for k in range(1, 6)) * 0.2
    batch = AudioBatch(tone.expand(2, 1, -1).clone(), torch.tensor([1600, 1200]), torch.arange(2))
    logged: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(module, "log", lambda key, value, **kw: logged.__setitem__(key, value))
    head = module.codec.decoder.head
    before = head.weight[-1].detach().clone()
    fit(module, [batch], max_steps=1)
    assert float(logged["g/pitch"]) > 0
    expected = loss.mel * logged["g/mel"] + 3.0 * logged["g/pitch"] + logged["vq/commit"]
    assert torch.allclose(logged["g/total"], expected, rtol=1e-6, atol=0.0)
    assert not torch.equal(before, head.weight[-1])
