"""The ``codec-train`` console script (``python train.py`` in a checkout runs the same ``main``).

The Hydra tree ships inside the package (``codec/conf``), so an installed codec trains with the
same defaults and overrides as the repository: ``codec-train experiment=debug run_dir=/tmp/x``.
Runs land in ``runs/<experiment>`` under the current directory unless ``run_dir`` is given.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from codec.lightning.run import register_schema, run_training

register_schema()


# "../conf" from this module resolves to pkg://codec/conf: found in a checkout and in a wheel alike.
@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    """Compose the config from the command line's overrides and train."""
    run_training(cfg)
