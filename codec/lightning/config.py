"""Typed training configuration: the Hydra structured-config schema for ``train.py``.

Each Hydra group writes under its own key (``model``, ``discriminator``, ``loss``, ``optim``,
``data``, ``trainer``, ``logger``); the ``quantizer`` group writes into ``model.quantizer``.
``model`` is the core :class:`~codec.config.CodecConfig` itself: one schema for training and
for exported models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codec.config import CodecConfig


@dataclass
class DiscriminatorConfig:
    """Names from {msstft, mpd, msd, mrd}; an empty list trains without adversarial loss."""

    names: list[str] = field(default_factory=lambda: ["mpd", "msstft"])
    filters: int = 32


@dataclass
class LossConfig:
    """Weights keyed like the logs (g/mel, g/l1, g/adv, g/feat, vq/commit, vq/codebook): the
    only weights of the quantizer's (unweighted) losses; ``codebook`` applies to
    gradient-trained codebooks only (EMA codebooks have no codebook loss)."""

    mel: float = 15.0
    l1: float = 0.0
    adv: float = 1.0
    feat: float = 2.0
    commit: float = 1.0
    codebook: float = 1.0
    adversarial: str = "hinge"
    balancer: bool = False
    mel_windows: list[int] = field(default_factory=lambda: [64, 128, 256, 512, 1024, 2048])


@dataclass
class OptimConfig:
    lr_g: float = 3e-4
    lr_d: float = 3e-4
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    weight_decay: float = 0.0
    warmup_steps: int = 200
    decay: str = "cosine"
    min_lr_ratio: float = 0.1
    grad_clip: float = 1000.0
    disc_start_step: int = 0
    max_nonfinite: int = 20
    weight_ema: float = 0.0


@dataclass
class DataConfig:
    """``train`` / ``val``: a folder of audio, a file list (.txt) or a JSONL manifest."""

    train: str = "assets/speech/train"
    val: str = "assets/speech/val"
    frames_per_crop: int = 50
    batch_size: int = 8
    num_workers: int = 0
    val_items: int = 8
    val_max_seconds: float = 6.0
    normalize: str = "peak"
    seed: int = 0


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_steps: int = 1000
    max_minutes: float = 0.0
    val_every: int = 200
    log_every: int = 10
    checkpoint_every: int = 200
    num_threads: int = 0
    progress: bool = True


@dataclass
class LoggerConfig:
    kind: str = "tensorboard"
    audio_every: int = 200
    audio_items: int = 2
    project: str = "codec"
    offline: bool = True


@dataclass
class TrainConfig:
    model: CodecConfig = field(default_factory=CodecConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    run_dir: str = "runs/default"
    resume: str = "auto"
    init_from: str = ""
    freeze: list[str] = field(default_factory=list)
    seed: int = 0
    experiment: str = ""


def codec_config(cfg: TrainConfig) -> CodecConfig:
    """``cfg.model`` validated and normalised as an exported model's config would be (OmegaConf
    hands tuples such as ``seanet.ratios`` over as lists)."""
    return CodecConfig.from_dict(cfg.model.to_dict())
