"""Typed training configuration: the Hydra structured-config schema for ``train.py``.

Each Hydra group writes under its own key (``model``, ``discriminator``, ``loss``, ``optim``,
``data``, ``trainer``, ``logger``); the ``quantizer`` group writes into ``model.quantizer``.
``model`` is the core :class:`~codec.config.CodecConfig` itself: one schema for training and
for exported models.

Every dataclass checks its values in ``__post_init__``, which runs when ``OmegaConf.to_object``
builds the typed config: a bad value stops the run before any model or data is built, with
one line naming the key and what it accepts. The checks that need Lightning's registries
(accelerator, strategy, ``trainer.extra`` names) are in :func:`check_lightning_names`, which the
run calls next: this module does not import Lightning, so ``train.py --help`` / ``--cfg job``
stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from codec.choices import ADVERSARIAL_KINDS, DISCRIMINATOR_NAMES, NORMALIZE_KINDS
from codec.config import CodecConfig

#: ``optim.decay``: the learning-rate decays ``codec.lightning.module.lr_lambda`` implements
LR_DECAYS = ("cosine", "linear", "none")
#: ``logger.kind``: what ``codec.lightning.run.make_logger`` builds
LOGGER_KINDS = ("tensorboard", "wandb", "none")
#: ``freeze``: the codec parts that can be frozen
FREEZABLE = ("encoder", "quantizer", "decoder")
#: ``trainer.precision``: Lightning's precision strings (fp16 is refused later, by the run)
PRECISIONS = (
    *("32-true", "32", "bf16-mixed", "bf16", "bf16-true"),
    *("16-mixed", "16", "16-true", "64-true", "64"),
)
#: ``trainer.callbacks``: the Lightning callbacks a config may add, by class name, with keyword
#: arguments. An allow-list rather than Hydra's ``_target_``: a config never names code to run.
CALLBACKS = (
    "DeviceStatsMonitor",
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelSummary",
    "RichModelSummary",
    "Timer",
)
#: ``L.Trainer`` arguments ``trainer.extra`` must not set: the run sets them from these keys
MANAGED_TRAINER_ARGS = {
    **{k: f"trainer.{k}" for k in ("accelerator", "devices", "num_nodes", "strategy")},
    **{k: f"trainer.{k}" for k in ("precision", "max_steps", "accumulate_grad_batches")},
    "max_time": "trainer.max_minutes",
    "val_check_interval": "trainer.val_every",
    "check_val_every_n_epoch": "trainer.val_every",
    "log_every_n_steps": "trainer.log_every",
    "enable_progress_bar": "trainer.progress",
    "enable_model_summary": "trainer.progress",
    "callbacks": "trainer.callbacks",
    "logger": "logger",
    "default_root_dir": "run_dir",
    # manual optimisation: Lightning cannot clip; the module clips with optim.grad_clip
    "gradient_clip_val": "optim.grad_clip",
    "gradient_clip_algorithm": "optim.grad_clip",
    **{k: "the run" for k in ("plugins", "num_sanity_val_steps", "use_distributed_sampler")},
}


def check_choice(key: str, value: str, allowed: Iterable[str]) -> None:
    """One-line error naming ``key`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"config key '{key}' must be one of {', '.join(allowed)}, got {value!r}")


def check_min(key: str, value: float, low: float, strict: bool = False) -> None:
    """One-line error naming ``key`` unless ``value >= low`` (``> low`` when ``strict``)."""
    if not (value > low if strict else value >= low):  # written so that NaN fails too
        raise ValueError(f"config key '{key}' must be {'>' if strict else '>='} {low}, got {value}")


def check_fraction(key: str, value: float, closed: bool = True) -> None:
    """One-line error naming ``key`` unless ``value`` lies in [0, 1] ([0, 1) if not ``closed``)."""
    if not 0 <= value <= 1 or (not closed and value == 1):
        bounds = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"config key '{key}' must be in {bounds}, got {value}")


@dataclass
class DiscriminatorConfig:
    """Names from {msstft, mpd, msd, mrd}; an empty list trains without adversarial loss."""

    names: list[str] = field(default_factory=lambda: ["mpd", "msstft"])
    filters: int = 32

    def __post_init__(self) -> None:
        for name in self.names:
            check_choice("discriminator.names", name, sorted(DISCRIMINATOR_NAMES))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"config key 'discriminator.names' has repeats: {list(self.names)}")
        check_min("discriminator.filters", self.filters, 1)


@dataclass
class LossConfig:
    """Weights keyed like the logs (g/mel, g/l1, g/complex_stft, g/stft, g/pitch, g/adv, g/feat,
    vq/commit, vq/codebook): the only weights of the quantizer's (unweighted) losses;
    ``codebook`` applies to gradient-trained codebooks only (EMA codebooks have no codebook
    loss), ``pitch`` to the harmonic decoder only (``model.vocos.harmonic``)."""

    mel: float = 15.0
    l1: float = 0.0
    complex_stft: float = 0.0
    stft: float = 0.0
    pitch: float = 10.0
    adv: float = 1.0
    feat: float = 2.0
    commit: float = 1.0
    codebook: float = 1.0
    adversarial: str = "hinge"
    balancer: bool = False
    mel_windows: list[int] = field(default_factory=lambda: [64, 128, 256, 512, 1024, 2048])

    def __post_init__(self) -> None:
        check_choice("loss.adversarial", self.adversarial, ADVERSARIAL_KINDS)
        names = ("mel", "l1", "complex_stft", "stft", "pitch", "adv", "feat", "commit", "codebook")
        for name in names:
            check_min(f"loss.{name}", getattr(self, name), 0)
        if not self.mel_windows or min(self.mel_windows) < 2:
            raise ValueError(
                f"config key 'loss.mel_windows' must be sizes >= 2, got {self.mel_windows}"
            )


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

    def __post_init__(self) -> None:
        check_choice("optim.decay", self.decay, LR_DECAYS)
        check_min("optim.lr_g", self.lr_g, 0, strict=True)
        check_min("optim.lr_d", self.lr_d, 0)
        if len(self.betas) != 2:
            raise ValueError(f"config key 'optim.betas' must be two numbers, got {self.betas}")
        for beta in self.betas:
            check_fraction("optim.betas", beta, closed=False)
        check_min("optim.weight_decay", self.weight_decay, 0)
        check_min("optim.warmup_steps", self.warmup_steps, 0)
        check_fraction("optim.min_lr_ratio", self.min_lr_ratio)
        check_min("optim.grad_clip", self.grad_clip, 0, strict=True)
        check_min("optim.disc_start_step", self.disc_start_step, 0)
        check_min("optim.max_nonfinite", self.max_nonfinite, 1)
        check_fraction("optim.weight_ema", self.weight_ema, closed=False)


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
    # training augmentation (off when empty / 0): speed factors drawn per crop, e.g.
    # [0.9, 1.0, 1.1], and a random gain in [-gain_db, gain_db]; see codec/data/augment.py
    speeds: list[float] = field(default_factory=list)
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        check_choice("data.normalize", self.normalize, NORMALIZE_KINDS)
        for speed in self.speeds:
            if not 0.5 <= speed <= 2.0:
                raise ValueError(
                    f"config key 'data.speeds' must hold factors in [0.5, 2], got {speed}"
                )
        check_min("data.gain_db", self.gain_db, 0)
        check_min("data.frames_per_crop", self.frames_per_crop, 1)
        check_min("data.batch_size", self.batch_size, 1)
        check_min("data.num_workers", self.num_workers, 0)
        check_min("data.val_items", self.val_items, 1)
        check_min("data.val_max_seconds", self.val_max_seconds, 0, strict=True)


@dataclass
class TrainerConfig:
    """What ``L.Trainer`` gets. ``devices``: an int (-1: all), ``"auto"``, ``"0,1"`` or a list
    of device indices; ``precision``: a Lightning precision string or 16/32/64.
    ``accumulate_grad_batches``: batches per optimiser update, summed by the module itself
    (Lightning accumulates only under automatic optimisation). ``callbacks``: allowed callback
    name -> keyword arguments; ``extra``: further ``L.Trainer`` keyword arguments."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int = "32-true"
    accumulate_grad_batches: int = 1
    max_steps: int = 1000
    max_minutes: float = 0.0
    val_every: int = 200
    log_every: int = 10
    checkpoint_every: int = 200
    num_threads: int = 0
    progress: bool = True
    #: every N generator steps, an export folder under ``<run_dir>/snapshots/`` (0: none)
    snapshot_every: int = 0
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("trainer.precision", str(self.precision), PRECISIONS)
        check_devices(self.devices)
        for name in ("num_nodes", "max_steps", "val_every", "log_every", "checkpoint_every"):
            check_min(f"trainer.{name}", getattr(self, name), 1)
        check_min("trainer.accumulate_grad_batches", self.accumulate_grad_batches, 1)
        check_min("trainer.max_minutes", self.max_minutes, 0)
        check_min("trainer.num_threads", self.num_threads, 0)
        check_min("trainer.snapshot_every", self.snapshot_every, 0)
        for name in self.callbacks:
            check_choice("trainer.callbacks", name, CALLBACKS)
        for key in self.extra:
            if key in MANAGED_TRAINER_ARGS:
                raise ValueError(
                    f"config key 'trainer.extra.{key}' is set by the run: "
                    f"use {MANAGED_TRAINER_ARGS[key]}"
                )


def check_devices(devices: Any) -> None:
    """One-line error unless ``devices`` is what ``L.Trainer`` takes: an int >= 1 or -1,
    ``"auto"``, a string of an int or of comma-separated indices, or a list of distinct
    indices >= 0."""
    bad = ValueError(
        "config key 'trainer.devices' must be an int >= 1 or -1, 'auto', '0,1' or a list of "
        f"distinct device indices, got {devices!r}"
    )
    if isinstance(devices, bool):
        raise bad
    if isinstance(devices, str) and devices != "auto":
        parts = [p.strip() for p in devices.strip().strip(",").split(",")]
        if not all(p.lstrip("-").isdigit() for p in parts):
            raise bad
        devices = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    if isinstance(devices, int) and devices < 1 and devices != -1:
        raise bad
    if isinstance(devices, list):
        ints = all(isinstance(d, int) and not isinstance(d, bool) for d in devices)
        if not devices or not ints or min(devices) < 0 or len(set(devices)) != len(devices):
            raise bad
    elif not isinstance(devices, (int, str)):
        raise bad


def check_lightning_names(cfg: TrainerConfig) -> None:
    """The checks that need Lightning: accelerator and strategy names, ``trainer.extra`` keys
    that ``L.Trainer`` takes (imports Lightning, so the run calls it, not ``__post_init__``)."""
    from inspect import signature

    import lightning as L
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    # "gpu" is Lightning's alias of cuda/mps; ddp variants are registered strategies
    accelerators = ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]
    check_choice("trainer.accelerator", cfg.accelerator, accelerators)
    check_choice(
        "trainer.strategy", cfg.strategy, ["auto", *StrategyRegistry.available_strategies()]
    )
    known = [k for k in signature(L.Trainer).parameters if k not in MANAGED_TRAINER_ARGS]
    for key in cfg.extra:
        if key not in known:
            raise ValueError(f"config key 'trainer.extra.{key}' is not an L.Trainer argument")


@dataclass
class LoggerConfig:
    kind: str = "tensorboard"
    audio_every: int = 200
    audio_items: int = 2
    project: str = "codec"
    offline: bool = True

    def __post_init__(self) -> None:
        check_choice("logger.kind", self.kind, LOGGER_KINDS)
        check_min("logger.audio_every", self.audio_every, 0)
        check_min("logger.audio_items", self.audio_items, 0)


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

    def __post_init__(self) -> None:
        for part in self.freeze:
            check_choice("freeze", part, FREEZABLE)


def codec_config(cfg: TrainConfig) -> CodecConfig:
    """``cfg.model`` validated and normalised as an exported model's config would be (OmegaConf
    hands tuples such as ``seanet.ratios`` over as lists)."""
    return CodecConfig.from_dict(cfg.model.to_dict())
