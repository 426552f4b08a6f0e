"""Train a codec: ``python train.py [experiment=debug] [key=value ...]``.

With no arguments this trains ``experiment=quickstart`` on the bundled speech. See README.md.
The same entry point is installed as the ``codec-train`` command (codec/lightning/train.py);
the Hydra configs live in ``codec/conf``.
"""

from __future__ import annotations

import sys

from codec.lightning.train import main

if __name__ == "__main__":
    sys.exit(main())
