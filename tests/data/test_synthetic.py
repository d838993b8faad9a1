"""Synthetic data: any shape and class count, deterministic, learnable."""

from __future__ import annotations

import pytest
import torch

from archforge.data import SyntheticDataModule, build_datamodule
from archforge.errors import ConfigError


def _built(**overrides: object) -> SyntheticDataModule:
    cfg = {"name": "synthetic", "num_samples": 140, "num_classes": 7, "channels": 2}
    dm = build_datamodule({**cfg, "image_size": 12, **overrides})
    assert isinstance(dm, SyntheticDataModule)
    dm.setup("fit")
    return dm


def test_shapes_sizes_and_balanced_labels() -> None:
    dm = _built(batch_size=16)
    assert (dm.num_classes, dm.channels, dm.image_size) == (7, 2, 12)
    assert len(dm.train_set) == 112 and len(dm.val_set) == 28  # type: ignore[arg-type]
    assert torch.bincount(dm.val_set.labels).tolist() == [4] * 7  # type: ignore[union-attr]
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (16, 2, 12, 12) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and int(labels.max()) < 7


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = _built(), _built(), _built(seed=1)
    assert torch.equal(a.train_set.images, b.train_set.images)  # type: ignore[union-attr]
    assert torch.equal(a.train_set.labels, b.train_set.labels)  # type: ignore[union-attr]
    assert not torch.equal(a.train_set.images, c.train_set.images)  # type: ignore[union-attr]


def test_normalised_batches_are_roughly_standard() -> None:
    dm = _built(num_samples=700, batch_size=700)
    images = torch.cat([x for x, _ in dm.train_dataloader()])
    assert abs(images.mean().item()) < 0.05
    assert 0.85 < images.std().item() < 1.15


def test_classes_are_separable_by_their_mean_image() -> None:
    dm = _built(num_samples=280)
    train, val = dm.train_set, dm.val_set
    x, y = train.images.float(), train.labels  # type: ignore[union-attr]
    centroids = torch.stack([x[y == k].mean(0) for k in range(7)])
    dist = (val.images.float()[:, None] - centroids[None]).flatten(2).pow(2).sum(-1)  # type: ignore[union-attr]
    accuracy = (dist.argmin(1) == val.labels).float().mean().item()  # type: ignore[union-attr]
    assert accuracy > 0.9


def test_too_few_samples_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "synthetic", "num_samples": 10, "num_classes": 10})
    assert info.value.path == "data.num_samples"
