"""``train.py``'s entry: the config schema for Hydra, the run folder, one-line errors.

Light on purpose: Lightning and the model code are imported only once a run starts
(:mod:`codec.lightning.trainer`), so ``train.py --help`` and ``--cfg job`` answer at once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf

from codec.lightning.config import TrainConfig, check_lightning_names
from codec.lightning.errors import NonFiniteLossError

if TYPE_CHECKING:
    import lightning as L

    from codec.lightning.module import CodecModule


def register_schema() -> None:
    """Register :class:`TrainConfig` as ``train_schema`` so typos and wrong types fail early.

    The core model dataclasses are frozen; OmegaConf would make them read-only, so the
    stored node is unfrozen (types are still enforced).
    """
    node = OmegaConf.structured(TrainConfig)
    unfreeze(node)
    # open-ended by design (their keys are checked when the typed config is built), so
    # `trainer.extra.NAME=...` needs no `+`
    for key in ("callbacks", "extra"):
        OmegaConf.set_struct(node.trainer[key], False)
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
        place_multirun_job(cfg)
        typed: TrainConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
        check_lightning_names(typed.trainer)
        from codec.lightning.trainer import fit

        resolved = OmegaConf.to_yaml(cfg, resolve=True)
        return fit(typed, resolved, flat_hparams(cfg), callbacks or [])
    except (ValueError, FileNotFoundError, NonFiniteLossError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def place_multirun_job(cfg: DictConfig) -> None:
    """In a multirun (``-m``) each job trains in its own folder, Hydra's job directory
    (``<hydra.sweep.dir>/<job number>``), rather than all jobs sharing ``run_dir`` (where each
    would resume the previous job's checkpoint)."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    hydra = HydraConfig.get()
    if any(o.lstrip("+~").split("=", 1)[0] == "run_dir" for o in hydra.overrides.task):
        raise ValueError(
            "config key 'run_dir' cannot be set in a multirun (-m): each job trains in "
            "<hydra.sweep.dir>/<job number>; set hydra.sweep.dir instead"
        )
    cfg.run_dir = hydra.runtime.output_dir


def flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``{"optim.lr_g": 0.0003, ...}``: what loggers show as
    hyper-parameters (lists stay lists)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat
