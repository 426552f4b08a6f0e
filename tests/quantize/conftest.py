"""Small sizes and one thread: the quantizer tests must stay fast on a shared 2-core machine."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
