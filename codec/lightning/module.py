"""GAN training of a :class:`~codec.model.Codec` with Lightning manual optimisation."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from codec.balancer import GradientBalancer
from codec.config import CodecConfig
from codec.data import AudioBatch
from codec.discriminators import build_discriminator
from codec.inputs import mono_batch
from codec.lightning.callbacks import global_rng_state, set_global_rng_state
from codec.lightning.config import DiscriminatorConfig, LossConfig, OptimConfig
from codec.lightning.errors import NonFiniteLossError
from codec.lightning.window import GradientWindow
from codec.losses import (
    adversarial_d_loss,
    adversarial_g_loss,
    complex_stft_loss,
    feature_matching_loss,
    l1_loss,
    multi_resolution_stft_loss,
    multiscale_mel_loss,
    pitch_loss,
    sample_mask,
)
from codec.metrics import (
    MetricUnavailableError,
    mel_distance,
    pesq_batch,
    si_sdr,
    stft_distance,
    stoi_batch,
)
from codec.model import Codec
from codec.pitch import yin
from codec.vocos.decoder import F0_MIN


def perceptual_metrics(
    audio: Tensor, reference: Tensor, sample_rate: int, lengths: Tensor
) -> dict[str, Tensor]:
    """PESQ (wide band) and STOI of a validation batch when the ``eval`` extras are installed;
    items PESQ cannot score (no utterance detected) are left out."""
    try:
        pesq = [v for v in pesq_batch(audio, reference, sample_rate, lengths) if v is not None]
        stoi = stoi_batch(audio, reference, sample_rate, lengths)
    except MetricUnavailableError:
        return {}
    out = {"val/stoi": torch.tensor(sum(stoi) / len(stoi))}
    if pesq:
        out["val/pesq_wb"] = torch.tensor(sum(pesq) / len(pesq))
    return out


def lr_lambda(step: int, warmup: int, total: int, decay: str, min_ratio: float) -> float:
    """Linear warm-up then ``cosine`` / ``linear`` decay to ``min_ratio`` (or ``none``)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if decay == "none" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if decay == "cosine":
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if decay == "linear":
        return 1.0 - (1 - min_ratio) * progress
    raise ValueError(f"optim.decay must be cosine, linear or none, got {decay!r}")


class CodecModule(L.LightningModule):
    """Generator (the codec) + discriminators, trained with AdamW and manual optimisation.

    ``trainer.global_step`` counts generator steps only (the discriminator steps through
    its raw optimizer), so step numbers mean the same with or without a discriminator.
    With ``accumulate`` > 1 each step sums the gradients of that many batches, for the
    generator and the discriminator alike, and applies their mean (over the batches that
    gave finite values): Lightning's own accumulation needs automatic optimisation.
    """

    def __init__(
        self,
        codec: CodecConfig,
        discriminator: DiscriminatorConfig,
        loss: LossConfig,
        optim: OptimConfig,
        max_steps: int,
        accumulate: int = 1,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.codec = Codec(codec)
        self.loss_cfg, self.optim_cfg, self.max_steps = loss, optim, max_steps
        names = list(discriminator.names) if loss.adv > 0 or loss.feat > 0 else []
        self.disc = build_discriminator(names, filters=discriminator.filters) if names else None
        self.balancer = self._make_balancer(loss)
        self.weight_ema = (
            AveragedModel(
                self.codec, multi_avg_fn=get_ema_multi_avg_fn(optim.weight_ema), use_buffers=True
            )
            if optim.weight_ema > 0
            else None
        )
        self.nonfinite_total: Tensor
        self.register_buffer("nonfinite_total", torch.zeros((), dtype=torch.long))
        self.nonfinite_in_a_row = 0
        self.frozen_parts: list[str] = []
        self.window = GradientWindow(accumulate)
        self._tick = time.perf_counter()

    def train(self, mode: bool = True) -> CodecModule:
        """Frozen codec parts stay in eval mode (a frozen quantizer must not update its EMA)."""
        super().train(mode)
        self._hold_frozen_in_eval()
        return self

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Lightning does not always go through ``train()``: a fresh module is in train mode
        # from construction, and loops restore modes by setting ``.training`` directly.
        self._hold_frozen_in_eval()

    def _hold_frozen_in_eval(self) -> None:
        for part in self.frozen_parts:
            getattr(self.codec, part).eval()

    def _make_balancer(self, loss: LossConfig) -> GradientBalancer | None:
        if not loss.balancer:
            return None
        weights = {"g/mel": loss.mel, "g/l1": loss.l1, "g/complex_stft": loss.complex_stft}
        weights["g/stft"] = loss.stft
        if self.disc is not None:
            weights |= {"g/adv": loss.adv, "g/feat": loss.feat}
        return GradientBalancer({k: v for k, v in weights.items() if v > 0})

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    def export_model(self) -> Codec:
        """The model to export: the weight-EMA copy when enabled, else the trained codec."""
        if self.weight_ema is not None:
            return self.weight_ema.module  # type: ignore[return-value]
        return self.codec

    # ------------------------------------------------------------------ optimisers
    def configure_optimizers(self) -> Any:
        o = self.optim_cfg
        betas = (float(o.betas[0]), float(o.betas[1]))
        # frozen parts get no optimiser state (and weight decay cannot move them)
        frozen = {
            id(p) for part in self.frozen_parts for p in getattr(self.codec, part).parameters()
        }
        params_g = [p for p in self.codec.parameters() if id(p) not in frozen]
        opt_g = torch.optim.AdamW(
            params_g or [nn.Parameter(torch.zeros(1))],
            o.lr_g,
            betas=betas,
            weight_decay=o.weight_decay,
        )
        params_d = (
            list(self.disc.parameters())
            if self.disc is not None
            else [nn.Parameter(torch.zeros(1))]
        )
        opt_d = torch.optim.AdamW(params_d, o.lr_d, betas=betas, weight_decay=o.weight_decay)

        def schedule(step: int) -> float:
            return lr_lambda(step, o.warmup_steps, self.max_steps, o.decay, o.min_lr_ratio)

        sch = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], sch

    # ------------------------------------------------------------------ training
    def training_step(self, batch: AudioBatch, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()  # type: ignore[misc,attr-defined]
        sch_g, sch_d = self.lr_schedulers()  # type: ignore[misc]
        closes = self.window.advance()  # this batch ends the accumulation window
        wav, lengths = batch.wav, batch.lengths
        use_disc = self.disc is not None and self.global_step >= self.optim_cfg.disc_start_step
        logs: dict[str, Tensor] = {}
        out = self.codec(wav, lengths) if bool(torch.isfinite(wav).all()) else None
        if out is None:
            self._skip("input audio")
        elif use_disc:
            logs |= self._discriminator_backward(opt_d, wav, out.audio.detach())
        if use_disc and closes and self.window.disc_batches:
            logs |= self._discriminator_update(opt_d)
            sch_d.step()
        if out is not None:
            terms = self._generator_losses(wav, out.audio, lengths, use_disc)
            if out.f0 is not None:
                terms["g/pitch"] = self._pitch_loss(wav, out.f0, lengths)
            terms |= out.vq.losses  # unweighted: LossConfig holds their only weights
            total = self._weighted_total(terms)
            if bool(torch.isfinite(total)):
                self.toggle_optimizer(opt_g)
                self._generator_backward(terms, out.audio)
                self.untoggle_optimizer(opt_g)
                self.window.gen_batches += 1
                logs |= {k: v.detach() for k, v in terms.items()} | {"g/total": total.detach()}
                logs |= out.vq.metrics
            else:
                self._skip("generator loss")
        if closes and self.window.gen_batches:
            logs |= self._generator_update(opt_g, sch_g)
        if logs:
            self._log_step(logs, wav.shape[0] * wav.shape[-1])

    def _generator_update(self, opt_g: Any, sch_g: Any) -> dict[str, Tensor]:
        """Mean of the window's generator gradients, clipped, applied (skipped if not finite)."""
        grad_norm = self.window.mean_and_clip(self.codec, "gen_batches", self.optim_cfg.grad_clip)
        if not bool(torch.isfinite(grad_norm)):
            opt_g.zero_grad(set_to_none=True)
            self._skip("generator gradient")
            return {}
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
        sch_g.step()
        if self.weight_ema is not None:
            self.weight_ema.update_parameters(self.codec)
        self.nonfinite_in_a_row = 0
        return {"g/grad_norm": grad_norm, "lr/g": torch.tensor(sch_g.get_last_lr()[0])}

    def _discriminator_backward(self, opt_d: Any, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        assert self.disc is not None
        self.toggle_optimizer(opt_d)
        d_real, d_fake = self.disc(real), self.disc(fake)
        loss_d = adversarial_d_loss(d_real.logits, d_fake.logits, self.loss_cfg.adversarial)
        if bool(torch.isfinite(loss_d)):
            self.manual_backward(loss_d)
            self.window.disc_batches += 1
        else:
            self.nonfinite_total += 1
        self.untoggle_optimizer(opt_d)
        return {"d/loss": loss_d.detach()}

    def _discriminator_update(self, opt_d: Any) -> dict[str, Tensor]:
        assert self.disc is not None
        norm = self.window.mean_and_clip(self.disc, "disc_batches", self.optim_cfg.grad_clip)
        if bool(torch.isfinite(norm)):
            # The raw optimizer: stepping the Lightning wrapper would advance global_step twice.
            opt_d.optimizer.step()
        opt_d.zero_grad(set_to_none=True)
        return {"d/grad_norm": norm}

    def _generator_losses(
        self, wav: Tensor, audio: Tensor, lengths: Tensor, use_disc: bool
    ) -> dict[str, Tensor]:
        c = self.loss_cfg
        windows = list(c.mel_windows)
        bins = [min(max(w // 8, 16), 128) for w in windows]
        terms = {"g/mel": multiscale_mel_loss(audio, wav, self.sample_rate, lengths, windows, bins)}
        if c.l1 > 0:
            terms["g/l1"] = l1_loss(audio, wav, lengths)
        if c.complex_stft > 0:
            terms["g/complex_stft"] = complex_stft_loss(audio, wav, lengths)
        if c.stft > 0:
            terms["g/stft"] = multi_resolution_stft_loss(audio, wav, lengths)
        if use_disc:
            assert self.disc is not None
            fake = self.disc(audio)
            with torch.no_grad():
                real = self.disc(wav)
            terms["g/adv"] = adversarial_g_loss(fake.logits, c.adversarial)
            terms["g/feat"] = feature_matching_loss(real.features, fake.features)
        return terms

    def _pitch_loss(self, wav: Tensor, f0: Tensor, lengths: Tensor) -> Tensor:
        """The harmonic decoder's f0 against YIN's on the input, on the decoder's frames (at
        least two periods of the lowest f0 long; padding frames, past ``lengths``, count as
        unvoiced)."""
        hop = self.codec.hop_length
        frame = max(self.codec.config.vocos.n_fft, math.ceil(2 * self.sample_rate / F0_MIN))
        with torch.no_grad():
            target = yin(mono_batch(wav).float(), self.sample_rate, hop, frame, fmin=F0_MIN)
            frames = target.voiced.shape[-1]
            valid = sample_mask(lengths, frames, hop)
        return pitch_loss(f0, target.f0, target.voiced & valid)

    def loss_weights(self) -> dict[str, float]:
        """Each generator term's weight, keyed like the logs."""
        c = self.loss_cfg
        return {
            "g/mel": c.mel,
            "g/l1": c.l1,
            "g/complex_stft": c.complex_stft,
            "g/stft": c.stft,
            "g/pitch": c.pitch,
            "g/adv": c.adv,
            "g/feat": c.feat,
            "vq/commit": c.commit,
            "vq/codebook": c.codebook,
        }

    def _weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        weights = self.loss_weights()
        return sum((weights[k] * v for k, v in terms.items()), torch.zeros((), device=self.device))

    def _generator_backward(self, terms: dict[str, Tensor], audio: Tensor) -> None:
        if self.balancer is None:
            self.manual_backward(self._weighted_total(terms))
        else:
            # The balancer only takes gradients w.r.t. `audio`; the parameters get theirs from
            # this one manual_backward, the only backward DDP's reducer can follow (a second,
            # plain one leaves the ranks' gradients unsynchronised and breaks the next step).
            balanced = self.balancer.balance({k: terms[k] for k in self.balancer.names}, audio)
            # the quantizer terms do not pass through the audio the balancer normalises against,
            # so they are weighted directly
            vq = self._weighted_total({k: v for k, v in terms.items() if k.startswith("vq/")})
            self.manual_backward(vq + balanced.surrogate)

    def _skip(self, what: str) -> None:
        """Non-finite guard: skip this step, count it, stop after too many in a row."""
        self.nonfinite_total += 1
        self.nonfinite_in_a_row += 1
        self.log("train/nonfinite_skipped", self.nonfinite_total.float(), batch_size=1)
        limit = self.optim_cfg.max_nonfinite
        if self.nonfinite_in_a_row >= limit:
            raise NonFiniteLossError(
                f"non-finite {what} in {limit} consecutive steps (step {self.global_step}); "
                "lower the learning rate or check the data"
            )

    def _log_step(self, logs: dict[str, Tensor], samples: int) -> None:
        now = time.perf_counter()
        elapsed, self._tick = now - self._tick, now
        logs["train/audio_sec_per_sec"] = torch.tensor(
            samples / self.sample_rate / max(elapsed, 1e-9)
        )
        bar = {"g/mel", "d/loss", "vq/commit"}
        for key, value in logs.items():
            self.log(key, value.float(), prog_bar=key in bar, batch_size=1)

    # ------------------------------------------------------------------ validation
    def validation_step(self, batch: AudioBatch, batch_idx: int) -> dict[str, Tensor]:
        model = self.export_model()
        out = model(batch.wav, batch.lengths)
        metrics = {
            "val/mel_distance": mel_distance(
                out.audio, batch.wav, self.sample_rate, batch.lengths
            ).mean(),
            "val/si_sdr": si_sdr(out.audio, batch.wav, batch.lengths).mean(),
            "val/stft_distance": stft_distance(out.audio, batch.wav, batch.lengths).mean(),
        }
        if batch_idx == 0:
            metrics |= perceptual_metrics(out.audio, batch.wav, self.sample_rate, batch.lengths)
        for key, value in metrics.items():
            self.log(
                key,
                value,
                prog_bar=key == "val/mel_distance",
                batch_size=batch.wav.shape[0],
                sync_dist=True,
            )
        return {"audio": out.audio.detach()}

    # ------------------------------------------------------------------ checkpoint RNG
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rng"] = global_rng_state()
        checkpoint["nonfinite_in_a_row"] = self.nonfinite_in_a_row
        # the bypass warm-up's recent frames (this rank's), so a resumed run refits on them
        rows = self.codec.quantizer.recent.rows
        if rows is not None:
            checkpoint["quantizer_recent"] = rows.cpu()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("rng")
        if rng:
            set_global_rng_state(rng)
        self.nonfinite_in_a_row = int(checkpoint.get("nonfinite_in_a_row", 0))
        rows = checkpoint.get("quantizer_recent")
        self.codec.quantizer.recent.rows = rows if isinstance(rows, Tensor) else None
