"""Training callbacks: atomic checkpoints, global RNG state for checkpoints, model export,
periodic snapshots for learning curves, audio/spectrogram logging."""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from codec.fileio import atomic_dir, atomic_path, atomic_write_bytes
from codec.lightning.checkpoints import keep_previous


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints go to a temp file and are renamed, so a kill never leaves a torn file."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        with atomic_path(path, force=True) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            keep_previous(Path(path))  # last.ckpt -> last.prev.ckpt, once the new one is whole


def global_rng_state() -> dict[str, Any]:
    """Python, NumPy (with its cached Gaussian) and torch CPU/current-CUDA-device RNG states,
    as plain lists and tensors (``torch.load(weights_only=True)`` reads them back). Data
    order and crops do not use these (the data module seeds its own), the model does."""
    legacy = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    _, keys, pos, has_gauss, gauss = legacy
    version, internal, python_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(internal),
        "python_version": version,
        "python_gauss": python_gauss,
        "numpy": keys.tolist(),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_gauss": float(gauss),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this rank's device
    return state


def set_global_rng_state(rng: dict[str, Any]) -> None:
    """Restore what :func:`global_rng_state` saved (older checkpoints lack the Gaussian cache
    and CUDA state)."""
    torch.set_rng_state(rng["torch"])
    random.setstate((rng["python_version"], tuple(rng["python"]), rng["python_gauss"]))
    keys = np.array(rng["numpy"], dtype=np.uint32)
    has_gauss, gauss = int(rng.get("numpy_has_gauss", 0)), float(rng.get("numpy_gauss", 0.0))
    np.random.set_state(("MT19937", keys, rng["numpy_pos"], has_gauss, gauss))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])


class ExportCallback(L.Callback):
    """Exports ``save_pretrained`` models: ``export/`` at the end (last) and ``export_best/``
    whenever the monitored validation metric improves."""

    def __init__(self, run_dir: str | Path, monitor: str = "val/mel_distance") -> None:
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.best = math.inf

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None or float(value) >= self.best:
            return
        self.best = float(value)
        self._export(pl_module, "export_best")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A final last.ckpt, so a run stopped by max_steps/max_minutes resumes exactly here.
        # weights_only=False said out loud: resuming needs the optimiser and loop states too
        trainer.save_checkpoint(self.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
        self._export(pl_module, "export")

    @rank_zero_only
    def _export(self, pl_module: L.LightningModule, name: str) -> None:
        export_model(pl_module, self.run_dir / name)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict.get("best", math.inf))


def export_model(pl_module: L.LightningModule, folder: Path) -> None:
    """Write the module's export model (``save_pretrained`` format) into ``folder``."""
    model = pl_module.export_model()  # type: ignore[operator]
    model.save_pretrained(folder, force=True)


class SnapshotCallback(L.Callback):
    """Every ``every`` generator steps, and at the end of training, an export folder
    ``<run_dir>/snapshots/step_<step:06d>/`` (``config.json`` + ``model.safetensors``) plus
    ``meta.json``, for learning curves evaluated after the run.

    ``meta.json`` holds ``wall_seconds`` / ``cpu_seconds`` of training since the run started,
    accumulated across resumes through the checkpoint (work done after the last checkpoint of
    a killed process is redone, so it is not counted twice). Both start at ``on_fit_start``
    (imports and model construction are not counted; validation is) and leave out the time
    spent writing snapshots. ``process_cpu_seconds`` is this process's raw
    ``time.process_time()``. CPU seconds are those of the process writing (rank zero).
    """

    def __init__(self, run_dir: str | Path, every: int) -> None:
        self.folder = Path(run_dir) / "snapshots"
        self.every = every
        self.carried = {"wall_seconds": 0.0, "cpu_seconds": 0.0}
        self.resumes = 0
        self._start = (time.perf_counter(), time.process_time())
        self._spent = [0.0, 0.0]  # wall, cpu spent writing snapshots
        self._last_step = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = (time.perf_counter(), time.process_time())
        self._spent = [0.0, 0.0]

    def elapsed(self) -> dict[str, float]:
        """Training wall and CPU seconds so far, resumes included."""
        wall = time.perf_counter() - self._start[0] - self._spent[0]
        cpu = time.process_time() - self._start[1] - self._spent[1]
        return {
            "wall_seconds": self.carried["wall_seconds"] + wall,
            "cpu_seconds": self.carried["cpu_seconds"] + cpu,
        }

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step  # generator steps (the discriminator's do not count)
        if step > 0 and step % self.every == 0 and step != self._last_step:
            self._snapshot(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the last step too (max_minutes or a max_steps that is not a multiple of `every`)
        if trainer.global_step > 0 and trainer.global_step != self._last_step:
            self._snapshot(trainer, pl_module)

    def _snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        begin = (time.perf_counter(), time.process_time())
        self._last_step = trainer.global_step
        meta = {
            "step": trainer.global_step,
            **self.elapsed(),
            "process_cpu_seconds": begin[1],
            "threads": torch.get_num_threads(),
            "resumes": self.resumes,
            "unix_time": time.time(),
            "train_metrics": train_metrics(trainer),
        }
        self._write(pl_module, meta)
        self._spent[0] += time.perf_counter() - begin[0]
        self._spent[1] += time.process_time() - begin[1]

    @rank_zero_only
    def _write(self, pl_module: L.LightningModule, meta: dict[str, Any]) -> None:
        with atomic_dir(self.folder / f"step_{meta['step']:06d}") as tmp:
            export_model(pl_module, tmp)
            atomic_write_bytes(tmp / "meta.json", json.dumps(meta, indent=2).encode())

    def state_dict(self) -> dict[str, Any]:
        return {**self.elapsed(), "resumes": self.resumes}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.carried = {k: float(state_dict.get(k, 0.0)) for k in self.carried}
        self.resumes = int(state_dict.get("resumes", 0)) + 1


def train_metrics(trainer: L.Trainer) -> dict[str, float]:
    """The last training batch's logged codebook statistics and mel loss (``vq/*``,
    ``g/mel``), as plain floats."""
    return {
        key: float(value)
        for key, value in trainer.callback_metrics.items()
        if (key.startswith("vq/") or key == "g/mel") and value.numel() == 1
    }


class AudioLoggingCallback(L.Callback):
    """Logs reference and decoded audio plus log-spectrogram images every ``every`` steps, to
    each logger through its own media API (TensorBoard and W&B; others get none)."""

    def __init__(self, every: int, items: int = 2) -> None:
        self.every, self.items = every, items
        self._last_step = -1

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        step = trainer.global_step
        if batch_idx != 0 or trainer.sanity_checking or self.every <= 0 or step == self._last_step:
            return
        if step % self.every and step != trainer.max_steps:
            return
        self._last_step = step
        rate = int(pl_module.sample_rate)  # type: ignore[arg-type]
        clips: dict[str, Tensor] = {}
        for i in range(min(self.items, batch.wav.shape[0])):
            n = int(batch.lengths[i])
            for tag, wav in (
                ("reference", batch.wav[i, 0, :n]),
                ("decoded", outputs["audio"][i, 0, :n]),
            ):
                clips[f"{i}/{tag}"] = wav.detach().float().cpu().clamp(-1, 1)
        for logger in trainer.loggers:
            log_media(logger, clips, step, rate)


def log_media(logger: Any, clips: dict[str, Tensor], step: int, rate: int) -> None:
    """``audio/<name>`` and ``spec/<name>`` (log-spectrogram) for each [T] clip of ``clips``."""
    for name, clip in clips.items():
        image = log_spectrogram_image(clip)
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_audio(f"audio/{name}", clip, step, sample_rate=rate)
            logger.experiment.add_image(f"spec/{name}", image, step, dataformats="HW")
        elif isinstance(logger, WandbLogger):
            logger.log_audio(f"audio/{name}", [clip.numpy()], step=step, sample_rate=[rate])
            pixels = (image * 255).round().to(torch.uint8).numpy()
            logger.log_image(f"spec/{name}", [pixels], step=step)


def log_spectrogram_image(wav: Tensor, n_fft: int = 512) -> Tensor:
    """[T] -> [F, frames] log-magnitude in [0, 1], low frequencies at the bottom."""
    window = torch.hann_window(n_fft)
    spec = torch.stft(wav, n_fft, n_fft // 4, window=window, return_complex=True).abs()
    db = 20 * torch.log10(spec.clamp_min(1e-5))
    db = (db - db.max() + 80).clamp_min(0) / 80
    return db.flip(0)
