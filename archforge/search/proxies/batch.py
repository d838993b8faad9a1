"""The batch a proxy report is computed on: the first training batch of the selected data,
or, without data, a seeded Gaussian batch with random labels (enough for the data-free
proxies; the data-dependent ones then score noise, which the report says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from archforge.model.schema import ModelConfig
from archforge.search.proxies.base import Batch


def data_batch(data: Mapping[str, Any], size: int) -> Batch:
    from archforge.data.build import build_datamodule

    module = build_datamodule(data)
    module.setup("fit")
    images, labels = next(iter(module.train_dataloader()))
    return images[:size], labels[:size]


def random_batch(model: ModelConfig, size: int, seed: int = 0) -> Batch:
    height, width = model.spatial_size
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn((size, model.in_channels, height, width), generator=gen)
    return images, torch.randint(0, model.num_classes, (size,), generator=gen)
