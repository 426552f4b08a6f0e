"""The filters that keep Lightning's adverts and spurious warnings out of a run's output."""

from __future__ import annotations

import logging
import warnings

import pytest
from lightning.pytorch.utilities import rank_zero_info

from codec.lightning.quiet import PACKAGE_LOGGER, RANK_ZERO_LOGGER, DropAdverts, quiet_lightning


def test_the_spurious_warnings_are_dropped_and_others_kept() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        for message, category in [
            ("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning),
            ("Using ModelCheckpoint with manual optimization and every_n_train_steps", UserWarning),
            ("a warning the user must see", UserWarning),
        ]:
            warnings.warn(message, category, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning the user must see"]


def test_the_litlogger_advert_is_dropped_and_other_info_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_lightning()
    with caplog.at_level(logging.INFO, logger=RANK_ZERO_LOGGER):
        rank_zero_info("💡 Tip: try installing [litlogger](https://pypi.org/project/litlogger/)")
        rank_zero_info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]


def test_installing_twice_adds_one_filter() -> None:
    quiet_lightning()
    quiet_lightning()
    filters = logging.getLogger(RANK_ZERO_LOGGER).filters
    assert sum(isinstance(f, DropAdverts) for f in filters) == 1


def test_lightning_lines_print_once_under_a_root_handler() -> None:
    """``import lightning`` gives its package logger a console handler; under Hydra (a root
    handler) that printed every Lightning line twice."""
    package = logging.getLogger(PACKAGE_LOGGER)
    root = logging.getLogger()
    console = logging.StreamHandler()
    saved = list(package.handlers)
    package.addHandler(console)
    root.addHandler(probe := logging.NullHandler())
    try:
        quiet_lightning()
        assert console not in package.handlers
    finally:
        root.removeHandler(probe)
        for handler in saved:
            if handler not in package.handlers:
                package.addHandler(handler)
