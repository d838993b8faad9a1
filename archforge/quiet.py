"""Silence two known, repeated third-party messages, each matched by its exact text.

- Lightning 2.6 prints a "Tip" advertising its hosted `litlogger` / `litmodels` services on
  every `Trainer` (once per search trial).
- Lightning 2.6 builds `torch.utils._pytree.LeafSpec()`, which torch 2.13 deprecates with a
  FutureWarning on every construction; the fix belongs in Lightning, not in user code.

Every other warning and log line is left alone.
"""

from __future__ import annotations

import logging
import os
import warnings

LEAFSPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
# PYTHONWARNINGS takes a literal message prefix and separates entries by commas (so the prefix
# stops before the message's first comma); spawned search workers inherit it.
_LEAFSPEC_ENV = "ignore:`isinstance(treespec:FutureWarning"
ADVERTS = ("try installing [litlogger]", "try installing [litmodels]")
RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(advert in message for advert in ADVERTS)


def quiet_third_party() -> None:
    """Install the two filters in this process and (warnings) in its child processes."""
    warnings.filterwarnings("ignore", message=LEAFSPEC, category=FutureWarning)
    current = os.environ.get("PYTHONWARNINGS", "")
    if _LEAFSPEC_ENV not in current:
        os.environ["PYTHONWARNINGS"] = f"{current},{_LEAFSPEC_ENV}" if current else _LEAFSPEC_ENV
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
