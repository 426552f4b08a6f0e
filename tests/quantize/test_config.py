"""CodebookConfig: one place for the per-codebook settings and their validation."""

from __future__ import annotations

import pytest

from codec.quantize import CodebookConfig, GroupedResidualVQ


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"decay": 1.0}, "decay"),
        ({"decay": -0.1}, "decay"),
        ({"codebook_dim": 0}, "codebook_dim"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"kmeans_iters": -1}, "kmeans_iters"),
    ],
)
def test_bad_settings_name_their_key(kwargs: dict[str, float], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        CodebookConfig(**kwargs)  # type: ignore[arg-type]


def test_one_default_everywhere() -> None:
    """The dead-code threshold once differed between the config (0.1) and the classes (0.01)."""
    q = GroupedResidualVQ(8, groups=2, num_levels=2, codebook_size=4)
    assert all(cb.config == CodebookConfig() for _, cb in q.named_codebooks(2))
    assert CodebookConfig().threshold_dead == 0.1
