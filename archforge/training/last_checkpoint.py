"""last.ckpt off the critical path: written every `checkpoint.last_every_n_epochs` epochs and
in the run's final epoch, not at every epoch end.

A checkpoint holds the weights and the optimizer state; on a GPU run with short epochs,
writing it (and best.ckpt) at every epoch end cost about 2.3 s per epoch on ResNet-50 (issue
28). best.ckpt is Lightning's `ModelCheckpoint` with `save_top_k=1`, written only in epochs
that improve `checkpoint.monitor`. The final epoch is the one that reaches `max_epochs` or
in which a callback (early stopping) asked the run to stop; a run cut short any other way
(`max_steps`, a time limit) is saved once more when training ends. Every write is atomic
(archforge.checkpoint.atomic_save), so a kill at any moment leaves the previous last.ckpt
whole: it loses at most the epochs since that write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint

FILENAME = "last.ckpt"


def last_due(epoch: int, max_epochs: int, every: int, stopping: bool) -> bool:
    """Whether last.ckpt is written at the end of 0-based `epoch`: every `every` epochs
    (0: never on the way), and always in the final one."""
    final = stopping or (max_epochs >= 0 and epoch + 1 >= max_epochs)
    return final or (every > 0 and (epoch + 1) % every == 0)


class LastCheckpoint(Checkpoint):
    """Writes `dirpath/last.ckpt` when `last_due` says so, on every rank (the strategy writes
    from rank 0). A `Checkpoint`, so Lightning runs its epoch-end hook after validation and
    after early stopping has had its say, as it does for ModelCheckpoint."""

    def __init__(self, dirpath: Path, every: int) -> None:
        self.path = Path(dirpath) / FILENAME
        self.every = every
        self.saved: Path | None = None  # last.ckpt once written
        self._saved_step = -1

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if last_due(trainer.current_epoch, trainer.max_epochs or -1, self.every,
                    trainer.should_stop):
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        self._save(trainer)  # a run stopped mid-epoch; nothing to do after a final epoch

    def _save(self, trainer: L.Trainer) -> None:
        if getattr(trainer, "fast_dev_run", False) or self._saved_step == trainer.global_step:
            return
        trainer.save_checkpoint(self.path)
        self._saved_step = trainer.global_step
        self.saved = self.path
