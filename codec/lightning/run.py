"""``train.py``'s work: typed config -> module, data, trainer; resume; export."""

from __future__ import annotations

import datetime
import logging
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.config_store import ConfigStore
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from omegaconf import DictConfig, ListConfig, OmegaConf

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
from codec.lightning.data import CodecDataModule
from codec.lightning.module import CodecModule, NonFiniteLossError
from codec.model import Codec
from codec.pretrained import CONFIG_NAME, check_state_dict, write_config

log = logging.getLogger("codec.train")


def register_schema() -> None:
    """Register :class:`TrainConfig` as ``train_schema`` so typos and wrong types fail early.

    The core model dataclasses are frozen; OmegaConf would make them read-only, so the
    stored node is unfrozen (types are still enforced).
    """
    node = OmegaConf.structured(TrainConfig)
    unfreeze(node)
    ConfigStore.instance().store(name="train_schema", node=node)


def unfreeze(node: DictConfig | ListConfig) -> None:
    """Clear the read-only flag of ``node`` and of every container below it (each frozen
    dataclass sets its own flag, so clearing the root alone is not enough)."""
    OmegaConf.set_readonly(node, False)
    children = node.values() if isinstance(node, DictConfig) else node
    for child in children:
        if isinstance(child, (DictConfig, ListConfig)):
            unfreeze(child)


def run_training(cfg: DictConfig, callbacks: list[L.Callback] | None = None) -> CodecModule:
    """Train from a composed Hydra config; user errors exit with one clear line.

    ``callbacks`` are added to the trainer's (tests use them to inspect the run). Building the
    typed config validates every value, before anything is written or built.
    """
    try:
        typed: TrainConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
        return _run(typed, OmegaConf.to_yaml(cfg, resolve=True), callbacks or [])
    except (ValueError, FileNotFoundError, NonFiniteLossError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(cfg: TrainConfig, resolved_yaml: str, callbacks: list[L.Callback]) -> CodecModule:
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(resolved_yaml)
    # The model's config in the export format, so the core reads checkpoints without us.
    model = codec_config(cfg)
    write_config(run_dir / CONFIG_NAME, model)
    if cfg.trainer.precision.startswith("16"):
        raise ValueError(
            "trainer.precision fp16 is not supported (GAN losses overflow); use bf16-mixed"
        )
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.num_threads > 0:
        torch.set_num_threads(cfg.trainer.num_threads)
    module = CodecModule(model, cfg.discriminator, cfg.loss, cfg.optim, cfg.trainer.max_steps)
    if cfg.init_from:
        init_weights(module.codec, cfg.init_from)
    freeze(module, cfg.freeze)
    data = build_datamodule(cfg.data, module.codec)
    trainer = build_trainer(cfg, run_dir, callbacks)
    ckpt = resume_path(cfg.resume, run_dir)
    if ckpt is not None:
        log.info("resuming from %s", ckpt)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)
    return module


def build_datamodule(cfg: DataConfig, codec: Codec) -> CodecDataModule:
    """Data shaped for ``codec``: its sample rate, hop-aligned crops and channel count."""
    return CodecDataModule(cfg, codec.sample_rate, codec.hop_length, codec.channels)


def build_trainer(cfg: TrainConfig, run_dir: Path, extra: list[L.Callback]) -> L.Trainer:
    t = cfg.trainer
    checkpoints = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=t.checkpoint_every,
        save_last=True,
        enable_version_counter=False,
        save_top_k=3,
        monitor="step",
        mode="max",
    )
    callbacks: list[L.Callback] = [
        checkpoints,
        ExportCallback(run_dir),
        AudioLoggingCallback(cfg.logger.audio_every, cfg.logger.audio_items),
        *extra,
    ]
    if t.snapshot_every > 0:
        callbacks.append(SnapshotCallback(run_dir, t.snapshot_every))
    if t.progress:
        callbacks.append(_progress_bar())
    return L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=make_strategy(t.strategy),
        precision=t.precision,  # type: ignore[arg-type]
        max_steps=t.max_steps,
        max_time=datetime.timedelta(minutes=t.max_minutes) if t.max_minutes > 0 else None,
        val_check_interval=t.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=t.log_every,
        num_sanity_val_steps=0,
        logger=make_logger(cfg.logger, run_dir),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
        enable_progress_bar=t.progress,
        enable_model_summary=t.progress,
        use_distributed_sampler=False,
    )


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
