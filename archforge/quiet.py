"""Silence two known, repeated third-party messages, each matched by its exact text.

- Lightning 2.6 prints a "Tip" advertising its hosted `litlogger` / `litmodels` services on
  every `Trainer` (once per search trial).
- Lightning 2.6 builds `torch.utils._pytree.LeafSpec()`, which torch 2.13 deprecates with a
  FutureWarning on every construction; the fix belongs in Lightning, not in user code.

Every other warning and log line is left alone; archforge's own warnings (`DataWarning`: a
skipped image file) print as one line, `DataWarning: skipping unreadable image ...`, without
Python's file, line number and source line of the code that raised them.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

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


def _archforge_warning_on_one_line(original: Any) -> Any:
    def formatwarning(message: Warning | str, category: type[Warning], filename: str,
                      lineno: int, line: str | None = None) -> str:
        if category.__module__.startswith("archforge."):
            return f"{category.__name__}: {message}\n"
        return str(original(message, category, filename, lineno, line))

    formatwarning.archforge = True  # type: ignore[attr-defined]
    return formatwarning


def quiet_third_party() -> None:
    """Install the two filters in this process and (warnings) in its child processes, and
    the one-line format of archforge's own warnings."""
    if not getattr(warnings.formatwarning, "archforge", False):
        warnings.formatwarning = _archforge_warning_on_one_line(warnings.formatwarning)
    warnings.filterwarnings("ignore", message=LEAFSPEC, category=FutureWarning)
    current = os.environ.get("PYTHONWARNINGS", "")
    if _LEAFSPEC_ENV not in current:
        os.environ["PYTHONWARNINGS"] = f"{current},{_LEAFSPEC_ENV}" if current else _LEAFSPEC_ENV
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
