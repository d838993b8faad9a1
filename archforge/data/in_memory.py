"""Batches cut straight from tensors held in memory: no DataLoader, no workers, no
per-sample Python.

Each epoch draws one permutation (seeded by `data.seed` and the epoch number), takes this
rank's shard of it the way `torch.utils.data.DistributedSampler` does (pad by repeating the
head of the order so every rank gets the same count, then rank r takes every world_size-th
index from r), and yields contiguous slices of it as batches. A batch is gathered with one
`index_select` from the stored tensor (uint8 for photo sources), moved to the training
device, then scaled, augmented and normalised there as a whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

BatchFn = Callable[[tuple[Tensor, Tensor]], tuple[Tensor, Tensor]]


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """A permutation of range(n) that depends on (seed, epoch) only.

    The two numbers are mixed with numpy's SeedSequence rather than added, so seed 0 at
    epoch 1 does not repeat seed 1 at epoch 0.
    """
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint64)
    gen = torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))
    return torch.randperm(n, generator=gen)


def shard(order: Tensor, rank: int, world_size: int) -> Tensor:
    """This rank's part of an epoch order; every rank gets ceil(n / world_size) indices.

    The order is padded with its own first indices up to a multiple of `world_size` (a few
    samples seen twice per epoch rather than ranks with unequal batch counts, which would
    hang DDP's gradient all-reduce), then interleaved: rank r takes positions r, r + W, ...
    """
    if world_size == 1:
        return order
    n = order.numel()
    total = math.ceil(n / world_size) * world_size
    if total > n:
        repeats = math.ceil((total - n) / n)
        order = torch.cat([order, order.repeat(repeats)[: total - n]])
    return order[rank:total:world_size]


def batch_count(samples: int, batch_size: int, drop_last: bool) -> int:
    """Batches per epoch on one rank holding `samples` samples."""
    return samples // batch_size if drop_last else math.ceil(samples / batch_size)


class EpochOrder:
    """The sample order of one rank, epoch by epoch (the "sampler" of `InMemoryLoader`).

    Lightning calls `set_epoch(current_epoch)` on a loader's `sampler` before each epoch,
    which keeps the order right when a run resumes; a plain loop that never calls it still
    gets a new order every epoch because each pass advances `epoch` by one.
    """

    def __init__(
        self, n: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        self.n = n
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n / self.world_size)

    def indices(self) -> Tensor:
        """This rank's indices for the current epoch, in the order they are served."""
        order = epoch_permutation(self.n, self.seed, self.epoch) if self.shuffle else None
        if order is None:
            order = torch.arange(self.n)
        return shard(order, self.rank, self.world_size)


class InMemoryLoader:
    """An iterable of `(images, labels)` batches over tensors held in memory.

    `images` is (N, C, H, W) uint8 or float in [0, 1], `labels` (N,) int64. `batch_fn`
    turns a raw batch on `device` into the model's input (scale, augment, normalise).
    It has `__len__`, `batch_size`, `sampler` and `batch_sampler`, which is all Lightning's
    loops ask of a loader that is not a DataLoader.
    """

    batch_sampler = None  # Lightning looks for one wherever it finds a `sampler`

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        *,
        batch_size: int,
        batch_fn: BatchFn,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str | None = None,
        pin_memory: bool = False,
    ) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.batch_size = batch_size
        self.batch_fn = batch_fn
        self.drop_last = drop_last
        self.device = torch.device(device) if device is not None else images.device
        self.pin_memory = pin_memory and self.device.type == "cuda"
        self.sampler = EpochOrder(
            int(labels.shape[0]), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size
        )

    def __len__(self) -> int:
        return batch_count(len(self.sampler), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.sampler.indices()
        self.sampler.epoch += 1  # a later set_epoch() (Lightning's) overrides this
        size = self.batch_size
        for b in range(len(self)):
            idx = order[b * size : (b + 1) * size]
            yield self.batch_fn(self._gather(idx))

    def _gather(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        x = self.images.index_select(0, idx)
        y = self.labels.index_select(0, idx)
        if x.device != self.device:
            if self.pin_memory:
                x, y = x.pin_memory(), y.pin_memory()
            # uint8 crosses to the device: a quarter of the bytes of the float batch.
            x = x.to(self.device, non_blocking=self.pin_memory)
            y = y.to(self.device, non_blocking=self.pin_memory)
        return x, y
