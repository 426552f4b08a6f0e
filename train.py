"""Train a codec: ``python train.py [experiment=debug] [key=value ...]``.

With no arguments this trains ``experiment=quickstart`` on the bundled speech. See README.md.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from codec.lightning.run import register_schema, run_training

register_schema()


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_training(cfg)


if __name__ == "__main__":
    sys.exit(main())
