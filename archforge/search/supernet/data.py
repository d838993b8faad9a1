"""The search's data as the supernet needs it: training batches by epoch (a fixed order per
epoch, for resuming), a fixed set of recalibration images, the validation batches.

The data module is the one every trial of the space trains on (same split, subset,
augmentation, batch size); `trainer.limit_train_batches` / `limit_val_batches` bound the
batches as they bound a trial's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from archforge.config.run import Run
from archforge.training.fit import make_datamodule

Batch = tuple[torch.Tensor, torch.Tensor]


def _limit(value: int | float | None, total: int) -> int:
    if value is None:
        return total
    if isinstance(value, float):
        return max(1, math.floor(total * value))
    return min(total, int(value))


class SupernetData:
    def __init__(self, run: Run, calib_images: int, calib_batch: int,
                 device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.dm: Any = make_datamodule(run)
        self.dm.setup("fit")
        self.seed = run.data.seed
        self.num_classes = run.model.num_classes
        self.train_loader = self.dm.train_dataloader()
        self.steps_per_epoch = _limit(run.trainer.limit_train_batches, len(self.train_loader))
        self.val_steps = _limit(run.trainer.limit_val_batches, len(self.dm.val_dataloader()))
        self.calib_images = calib_images
        self.calib_batch = calib_batch
        self._val: list[Batch] | None = None
        self._calibration: list[torch.Tensor] | None = None

    def train(self, epoch: int) -> Iterator[Batch]:
        """Epoch `epoch`'s batches: the order depends on (data.seed, epoch) only."""
        loader = self.train_loader
        set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
        elif getattr(loader, "generator", None) is not None:
            loader.generator.manual_seed(self.seed * 1_000_003 + epoch)
        for x, y in loader:
            yield x.to(self.device), y.to(self.device)

    def validation(self) -> list[Batch]:
        """The validation batches (held in memory after the first call)."""
        if self._val is None:
            out = []
            for i, (x, y) in enumerate(self.dm.val_dataloader()):
                if i >= self.val_steps:
                    break
                out.append((x.to(self.device), y.to(self.device)))
            self._val = out
        return self._val

    def calibration(self) -> list[torch.Tensor]:
        """`calib_images` training images (augmented as in training), the same for every
        candidate, in batches of `calib_batch`."""
        if self._calibration is None:
            state = torch.random.get_rng_state()
            torch.manual_seed(self.seed)
            try:
                images = []
                count = 0
                for x, _ in self.train(epoch=2**20):  # a fixed order no training epoch uses
                    images.append(x)
                    count += int(x.shape[0])
                    if count >= self.calib_images:
                        break
            finally:
                torch.random.set_rng_state(state)
            pool = torch.cat(images)[: self.calib_images]
            chunks = list(pool.split(self.calib_batch))
            if len(chunks) > 1 and chunks[-1].shape[0] < 2:  # batch norm needs 2 samples
                chunks[-2] = torch.cat(chunks[-2:])
                chunks.pop()
            self._calibration = chunks
        return self._calibration
