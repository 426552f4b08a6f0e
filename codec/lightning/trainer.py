"""The run itself, once the config is checked: module, data, ``L.Trainer``, resume, export.

Imported by :func:`codec.lightning.run.run_training` only when a run starts: it pulls in
Lightning, which ``train.py --help`` / ``--cfg job`` do not need.
"""

from __future__ import annotations

import datetime
import logging
import shlex
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch import callbacks as pl_callbacks
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from codec.lightning.callbacks import (
    AtomicCheckpointIO,
    AudioLoggingCallback,
    ExportCallback,
    SnapshotCallback,
)
from codec.lightning.checkpoints import find_resume
from codec.lightning.config import (
    FREEZABLE,
    LOGGER_KINDS,
    DataConfig,
    LoggerConfig,
    TrainConfig,
    check_choice,
    codec_config,
)
from codec.lightning.data import CodecDataModule, load_records
from codec.lightning.module import CodecModule
from codec.lightning.quiet import quiet_lightning
from codec.model import Codec
from codec.pretrained import CONFIG_NAME, check_state_dict, write_config

log = logging.getLogger("codec.train")

#: ``trainer.callbacks`` names -> Lightning classes (the allow-list of ``config.CALLBACKS``)
CALLBACK_CLASSES: dict[str, type[L.Callback]] = {
    "DeviceStatsMonitor": pl_callbacks.DeviceStatsMonitor,
    "EarlyStopping": pl_callbacks.EarlyStopping,
    "LearningRateMonitor": pl_callbacks.LearningRateMonitor,
    "ModelSummary": pl_callbacks.ModelSummary,
    "RichModelSummary": pl_callbacks.RichModelSummary,
    "Timer": pl_callbacks.Timer,
}


def fit(
    cfg: TrainConfig, resolved_yaml: str, hparams: dict[str, Any], callbacks: list[L.Callback]
) -> CodecModule:
    """Train ``cfg`` in ``cfg.run_dir``; ``hparams`` (the flattened config) go to every logger."""
    quiet_lightning()
    run_dir = Path(cfg.run_dir)
    model = codec_config(cfg)
    if str(cfg.trainer.precision).startswith("16"):
        raise ValueError(
            "trainer.precision fp16 is not supported (GAN losses overflow); use bf16-mixed"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(resolved_yaml)
    # The model's config in the export format, so the core reads checkpoints without us.
    write_config(run_dir / CONFIG_NAME, model)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.num_threads > 0:
        torch.set_num_threads(cfg.trainer.num_threads)
    module = CodecModule(
        model,
        cfg.discriminator,
        cfg.loss,
        cfg.optim,
        cfg.trainer.max_steps,
        accumulate=cfg.trainer.accumulate_grad_batches,
    )
    module.save_hyperparameters(hparams)
    if cfg.init_from:
        init_weights(module.codec, cfg.init_from)
    freeze(module, cfg.freeze)
    data = build_datamodule(cfg.data, module.codec)
    trainer = build_trainer(cfg, run_dir, callbacks)
    ckpt = resume_path(cfg.resume, run_dir)
    if ckpt is not None:
        log.info("resuming from %s", ckpt)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)
    except MisconfigurationException as exc:  # Lightning's word for a bad setting
        raise ValueError(f"Lightning: {first_line(exc)}") from None
    if trainer.is_global_zero and (run_dir / "export").is_dir():
        print(next_steps(run_dir, cfg.data.val), flush=True)
    return module


def next_steps(run_dir: Path, val: str) -> str:
    """Where the trained model is and the commands to try it."""
    model = shlex.quote(str(run_dir / "export"))
    try:
        audio = shlex.quote(str(load_records(val)[0].path))
    except (OSError, ValueError, IndexError):
        audio = "AUDIO.wav"
    return "\n".join(
        [
            f"Trained model: {run_dir / 'export'} (best validation: {run_dir / 'export_best'})",
            "Next:",
            f"  codec roundtrip {audio} -o decoded.wav --model {model}",
            f"  codec eval --model {model} {shlex.quote(val)} -o {shlex.quote(str(run_dir / 'eval'))}",
            f"  codec encode AUDIO_DIR/ -o tokens/ --model {model}",
            f"  tensorboard --logdir {shlex.quote(str(run_dir))}",
        ]
    )


def build_datamodule(cfg: DataConfig, codec: Codec) -> CodecDataModule:
    """Data shaped for ``codec``: its sample rate, hop-aligned crops and channel count."""
    return CodecDataModule(cfg, codec.sample_rate, codec.hop_length, codec.channels)


def build_trainer(cfg: TrainConfig, run_dir: Path, extra: list[L.Callback]) -> L.Trainer:
    """The ``L.Trainer``; ``val_every`` / ``log_every`` count optimiser steps, so they are
    scaled to batches when batches are accumulated."""
    t = cfg.trainer
    batches_per_step = t.accumulate_grad_batches
    callbacks = [*build_callbacks(cfg, run_dir), *extra]
    try:
        return L.Trainer(
            accelerator=t.accelerator,
            devices=t.devices,
            num_nodes=t.num_nodes,
            strategy=make_strategy(t.strategy),
            precision=t.precision,  # type: ignore[arg-type]
            max_steps=t.max_steps,
            max_time=datetime.timedelta(minutes=t.max_minutes) if t.max_minutes > 0 else None,
            val_check_interval=t.val_every * batches_per_step,
            check_val_every_n_epoch=None,
            log_every_n_steps=t.log_every * batches_per_step,
            num_sanity_val_steps=0,
            logger=make_logger(cfg.logger, run_dir),
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],
            default_root_dir=run_dir,
            enable_progress_bar=t.progress,
            enable_model_summary=t.progress,
            use_distributed_sampler=False,
            **t.extra,
        )
    except (MisconfigurationException, TypeError, ValueError) as exc:
        what = f"trainer.extra {sorted(t.extra)}" if t.extra else "the trainer settings"
        raise ValueError(f"Lightning rejected {what}: {first_line(exc)}") from None


def build_callbacks(cfg: TrainConfig, run_dir: Path) -> list[L.Callback]:
    """Checkpoints, exports, audio logging, snapshots, the progress bar and the allowed
    ``trainer.callbacks`` (built from their names, never from a config-given import path)."""
    t = cfg.trainer
    callbacks: list[L.Callback] = [
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="step{step:07d}",
            auto_insert_metric_name=False,
            every_n_train_steps=t.checkpoint_every,
            save_last=True,
            enable_version_counter=False,
            save_top_k=3,
            monitor="step",
            mode="max",
        ),
        ExportCallback(run_dir),
        AudioLoggingCallback(cfg.logger.audio_every, cfg.logger.audio_items),
    ]
    if t.snapshot_every > 0:
        callbacks.append(SnapshotCallback(run_dir, t.snapshot_every))
    if t.progress:
        callbacks.append(_progress_bar())
    callbacks += [named_callback(name, kwargs) for name, kwargs in t.callbacks.items()]
    return callbacks


def named_callback(name: str, kwargs: dict[str, Any]) -> L.Callback:
    """One ``trainer.callbacks`` entry; bad arguments are one line naming it."""
    try:
        return CALLBACK_CLASSES[name](**kwargs)
    except (MisconfigurationException, TypeError, ValueError) as exc:
        raise ValueError(f"config key 'trainer.callbacks.{name}': {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def make_strategy(name: str) -> Any:
    """``ddp`` variants get unused-parameter detection (generator and discriminator steps
    touch different parameters) and no buffer broadcast (the quantizer all-reduces its own
    EMA statistics, so codebooks are identical on every rank already)."""
    if name.startswith("ddp") and name != "ddp_spawn":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=True, broadcast_buffers=False)
    return name


def _progress_bar() -> L.Callback:
    try:
        from lightning.pytorch.callbacks import RichProgressBar

        return RichProgressBar(leave=True)
    except (ImportError, ModuleNotFoundError):
        return TQDMProgressBar()


def make_logger(cfg: LoggerConfig, run_dir: Path) -> Any:
    """TensorBoard (default), W&B (offline-capable) or none."""
    if cfg.kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="")
    if cfg.kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(project=cfg.project, save_dir=str(run_dir), offline=cfg.offline)
    if cfg.kind == "none":
        return False
    check_choice("logger.kind", cfg.kind, LOGGER_KINDS)
    raise AssertionError(f"logger.kind {cfg.kind!r} is allowed but not built")


def resume_path(resume: str, run_dir: Path) -> str | None:
    """``auto``: the run's ``last.ckpt`` if any (an unreadable one falls back to the newest
    readable checkpoint, with a warning); ``none``: fresh; else a checkpoint path."""
    return find_resume(resume, run_dir)


def init_weights(codec: Codec, source: str) -> None:
    """Fine-tuning: copy weights from an exported model dir, a training checkpoint or a
    converted EnCodec (``encodec_24khz:PATH``); the configs must match."""
    from codec.loading import load_model

    other = load_model(source)
    check_state_dict(codec.state_dict(), other.state_dict(), f"init_from={source}")
    codec.load_state_dict(other.state_dict())


def freeze(module: CodecModule, parts: list[str]) -> None:
    """Freeze ``encoder`` / ``quantizer`` / ``decoder`` of the codec: no gradients, no optimiser
    state, and eval mode for the whole run (the module keeps them there), so a frozen
    quantizer's EMA codebooks, usage counters and dead-code resets stop too."""
    for part in parts:
        check_choice("freeze", part, FREEZABLE)
        getattr(module.codec, part).requires_grad_(False)
    module.frozen_parts = list(parts)
    module.train(module.training)  # puts the frozen parts in eval mode now
