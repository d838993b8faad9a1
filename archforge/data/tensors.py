"""An in-memory image dataset that hands out whole batches in one indexing operation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset


class TensorImageDataset(Dataset[tuple[Tensor, int]]):
    """Images (N, C, H, W; uint8 or float in [0, 1]) and int64 labels held as tensors.

    `__getitems__` lets DataLoader fetch a batch with one index instead of N `__getitem__`
    calls and a stack: on tiny images (digits, synthetic) that per-sample overhead is most
    of the data time.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels.to(torch.int64)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.images[idx], self.labels[idx]
