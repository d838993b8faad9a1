"""The device-resident data path: one rank's shard of a data set copied to the training
device once; `InMemoryLoader` then gathers (`index_select`) and augments every batch there.

With one process the copy holds every sample in stored order and the loader is the host
path's own, same seed and sampler: the batches are exactly the host path's (same order, same
values); only where the stored tensor lives differs.

Under DDP a rank keeps one fixed shard for the whole run, positions r, r + W, ... of a
seeded permutation (padded as `in_memory.shard` pads, so every rank has the same count),
and reshuffles within it each epoch, as NVIDIA DALI's sharded readers do with
`stick_to_shard` (https://docs.nvidia.com/deeplearning/dali/). The host path deals each
epoch's permutation out afresh, so a rank would touch every sample over a run and need the
whole set on its device. Unshuffled splits (validation, test) shard exactly as the host
path does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from archforge.data.in_memory import shard

# A key no epoch number reaches: the run-long shard permutation never equals an epoch's.
_SHARD_STREAM = 2**40


def _permutation(n: int, *keys: int) -> Tensor:
    state = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint64)
    gen = torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))
    return torch.randperm(n, generator=gen)


def resident_indices(n: int, *, shuffle: bool, seed: int, rank: int,
                     world_size: int) -> Tensor | None:
    """The stored rows rank `rank` copies to its device, in order; None: all of them."""
    if world_size == 1:
        return None
    order = _permutation(n, seed, _SHARD_STREAM) if shuffle else torch.arange(n)
    return shard(order, rank, world_size)


def rank_seed(seed: int, rank: int, world_size: int) -> int:
    """The seed of a rank's within-shard shuffle: `seed` itself with one process (the host
    path's order), a different stream per rank otherwise."""
    if world_size == 1:
        return seed
    return int(np.random.SeedSequence([seed, _SHARD_STREAM, rank]).generate_state(1)[0])


def place(images: Tensor, labels: Tensor, rows: Tensor | None,
          device: torch.device) -> tuple[Tensor, Tensor]:
    """`rows` of the stored tensors (all when None) on `device`: one copy, no per-batch
    traffic afterwards. On the CPU with every row this is the stored tensor itself."""
    if rows is not None:
        images, labels = images.index_select(0, rows), labels.index_select(0, rows)
    return images.to(device), labels.to(device=device, dtype=torch.int64)

