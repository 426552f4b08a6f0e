"""Lightning messages that say nothing about a codec run, silenced one by one.

Each entry is a message Lightning (2.6) or torch prints on every run of ours and that asks the
user to do nothing: an advert, a deprecation inside Lightning's own code, and a warning about a
checkpoint state that is exactly the one we want. Everything else Lightning says still shows,
once: Lightning's package logger has its own console handler, so under Hydra's logging (a
root handler) every Lightning line was printed twice.
"""

from __future__ import annotations

import logging
import warnings

#: (message regex, why it is noise for us)
SPURIOUS_WARNINGS: tuple[tuple[str, str], ...] = (
    (
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        "a deprecation inside lightning/pytorch/utilities/_pytree.py, not in our code",
    ),
    (
        r"Using ModelCheckpoint with manual optimization and every_n_train_steps",
        "our checkpoints should hold the state after the step: a resume continues from there",
    ),
)

#: substrings of Lightning's INFO records that are adverts, not information
SPURIOUS_INFO: tuple[str, ...] = ("litlogger",)

#: the logger Lightning's rank_zero_info writes to
RANK_ZERO_LOGGER = "lightning.pytorch.utilities.rank_zero"
#: the package logger ``import lightning`` gives a console handler of its own
PACKAGE_LOGGER = "lightning"


class DropAdverts(logging.Filter):
    """Drops log records whose message contains one of :data:`SPURIOUS_INFO`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in SPURIOUS_INFO)


def quiet_lightning() -> None:
    """Install the filters (idempotent: a second call adds nothing)."""
    for pattern, _why in SPURIOUS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logger = logging.getLogger(RANK_ZERO_LOGGER)
    if not any(isinstance(f, DropAdverts) for f in logger.filters):
        logger.addFilter(DropAdverts())
    if logging.getLogger().handlers:  # the root prints (and files) Lightning's records already
        package = logging.getLogger(PACKAGE_LOGGER)
        for handler in list(package.handlers):
            if type(handler) is logging.StreamHandler:
                package.removeHandler(handler)
