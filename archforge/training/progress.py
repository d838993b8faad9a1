"""The progress bar and model summary of `archforge train`, on stderr, epochs from 1.

archforge's commands print results on stdout and progress and logs on stderr, so
`archforge train ... > result.txt` keeps only the result. Lightning's default rich progress
bar and model table write to stdout, and the bar counts epochs from 0 ("Epoch 11/11" for
the twelfth of twelve) while the final summary counts from 1 ("last (epoch 12, ...)"):
here the bar says "Epoch 12/12", and the model table goes through Lightning's logger.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelSummary, RichProgressBar


class EpochProgressBar(RichProgressBar):
    """Lightning's rich progress bar on stderr, counting epochs from 1 of `max_epochs`."""

    def __init__(self) -> None:
        super().__init__(console_kwargs={"stderr": True})

    def _get_train_description(self, current_epoch: int) -> str:
        # Lightning's own method writes `current_epoch`/`max_epochs - 1` (both 0-based).
        description = epoch_label(current_epoch, self.trainer.max_epochs)
        return f"{description:{len(self.validation_description)}}"


def epoch_label(current_epoch: int, max_epochs: int | None) -> str:
    """"Epoch 3/10" for Lightning's 0-based `current_epoch` 2 of 10 epochs."""
    total = f"/{max_epochs}" if max_epochs is not None and max_epochs >= 0 else ""
    return f"Epoch {current_epoch + 1}{total}"


def progress_callbacks() -> list[L.Callback]:
    """The bar above and Lightning's plain model summary (logged, so on stderr)."""
    return [EpochProgressBar(), ModelSummary()]
