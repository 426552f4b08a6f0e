"""SimVQCodebook: a codebook that is a learnt linear map of a frozen random basis (SimVQ).

Zhu et al. 2024, "Addressing Representation Collapse in Vector Quantized Models with One Linear
Layer": the codes are ``C W^T`` for a frozen Gaussian basis ``C`` [K, D] and a learnt ``W``
[D, D]. The codebook loss updates ``W``, which moves every code at once, so unused codes follow
the used ones instead of dying. A drop-in for :class:`EMACodebook` inside ``VectorQuantizer`` /
``ResidualVQ`` / ``GroupedResidualVQ``: same search, statistics, all-reduce and metrics.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codec.quantize.codebook import EMACodebook
from codec.quantize.config import CodebookConfig


class SimVQCodebook(EMACodebook):
    """``codebook_size`` codes of dimension ``dim``: ``embedding = basis @ proj.weight^T``.

    ``basis`` [K, D] is a buffer (saved, never trained) drawn from ``seed``; ``proj`` is a
    bias-free ``nn.Linear(D, D)`` starting at the identity. Always gradient mode (``ema`` is
    ignored): the codebook loss trains ``proj``. Dead codes are counted for metrics but never
    reset (the paper's point: nothing collapses). With ``kmeans_init`` the first batch sets
    ``proj`` so the codes have the data's second moments (no k-means: a random basis has no
    correspondence to clusters).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        codebook: CodebookConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        config = dataclasses.replace(codebook or CodebookConfig(), ema=False)
        super().__init__(dim, codebook_size, config, seed=seed)
        # the parent drew a seeded N(0, 1/D) table as its trainable embedding: it becomes the
        # frozen basis, and `embedding` is derived from it from now on
        init = self._parameters.pop("embedding")
        assert init is not None
        self.basis: Tensor
        self.register_buffer("basis", init.detach().clone())
        self.proj = nn.Linear(dim, dim, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(dim))

    @property
    def embedding(self) -> Tensor:  # type: ignore[override]
        """The effective codebook [K, D] (carries gradient to ``proj``)."""
        return F.linear(self.basis, self.proj.weight)

    def search_tables(self) -> tuple[Tensor, Tensor]:
        """Detached codes [K, D] (L2-normalised with ``normalize``) and their squared norms
        [K]; cached until ``proj`` or ``basis`` change (a derived table has no version)."""
        w = self.proj.weight
        key = (w.data_ptr(), w.device, w._version, self.basis._version)
        if self._search_cache is None or self._search_cache[0] != key:
            with torch.no_grad():
                emb = F.linear(self.basis, w)
                search = F.normalize(emb, dim=1) if self.config.normalize else emb
            self._search_cache = (key, search, search.pow(2).sum(1))
        return self._search_cache[1], self._search_cache[2]

    def lookup(self, codes: Tensor) -> Tensor:
        """Code vectors [N, D] for ``codes`` [N]: only the selected basis rows are mapped."""
        return F.linear(self.basis.index_select(0, codes), self.proj.weight)

    def reset_due(self) -> bool:
        return False

    def init_from_data(self, x: Tensor) -> None:
        """Set ``proj`` from ``x`` [N, D] so the codes' second moment matches the data's:
        basis rows have covariance I / D, so ``W = sqrt(D) * chol(E[x x^T])``."""
        with torch.no_grad():
            d = self.dim
            moment = x.t() @ x / max(x.shape[0], 1)
            scale = float(moment.diagonal().mean())
            if scale > 0:  # an all-zero batch says nothing: the identity stays
                chol, info = torch.linalg.cholesky_ex(moment)
                if int(info) != 0:
                    # rank-deficient batch: a small relative ridge makes the factor exist
                    eye = torch.eye(d, device=x.device)
                    chol, info = torch.linalg.cholesky_ex(moment + 1e-4 * scale * eye)
                if int(info) == 0:
                    self.proj.weight.copy_(chol * math.sqrt(d))
            self.initialized.fill_(True)
        self._initialized = True

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._search_cache = None  # a loaded basis may share the old version counter

    def extra_repr(self) -> str:
        return f"dim={self.dim}, codebook_size={self.codebook_size}, simvq"
