"""Batch augmentations, normalisation and the stratified split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archforge.data.split import stratified_split
from archforge.data.transforms import (
    AugmentConfig,
    BatchTransform,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShearZoom,
    build_augment,
    to_unit_float,
)
from archforge.errors import ConfigError


def test_random_crop_is_a_shifted_window_of_the_padded_image() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 3, 6, 5)
    out = RandomCrop(2)(x)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(16):
        hits = [
            (t, left)
            for t in range(5)
            for left in range(5)
            if torch.equal(out[i], padded[i, :, t : t + 6, left : left + 5])
        ]
        assert hits, f"image {i} is not a window of its padded input"
        offsets.add(hits[0])
    assert len(offsets) > 1  # offsets vary across the batch


def test_flip_mirrors_some_images_and_keeps_the_rest() -> None:
    torch.manual_seed(0)
    x = torch.rand(64, 1, 4, 4)
    out = RandomHorizontalFlip()(x)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 16 < sum(flipped) < 48
    assert torch.equal(RandomHorizontalFlip(p=1.0)(x), x.flip(-1))


def test_shear_zoom_is_identity_at_zero_and_changes_images_otherwise() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16)
    assert torch.allclose(RandomShearZoom(0.0, 0.0)(x), x, atol=1e-5)
    out = RandomShearZoom(20.0, 0.3)(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, x, atol=1e-2)


def test_build_augment_follows_the_config() -> None:
    assert build_augment(AugmentConfig()) is None
    pipeline = build_augment(AugmentConfig(hflip=True, crop_padding=4, shear=5.0, zoom=0.1))
    assert [type(m).__name__ for m in pipeline] == [  # type: ignore[union-attr]
        "RandomShearZoom",
        "RandomCrop",
        "RandomHorizontalFlip",
    ]


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [("zoom", 1.5, "data.augment.zoom"), ("crop_padding", -1, "data.augment.crop_padding")],
)
def test_augment_config_errors_name_the_key(field: str, value: float, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        AugmentConfig(**{field: value}).check()
    assert info.value.path == key


def test_normalize_and_unit_scaling() -> None:
    x = torch.tensor([[[0, 255]], [[51, 102]]], dtype=torch.uint8)  # (C=2, 1, 2)
    unit = to_unit_float(x)
    assert unit.dtype == torch.float32 and unit.max() == 1.0
    out = Normalize((0.5, 0.2), (0.5, 0.1))(unit)
    assert torch.allclose(out, torch.tensor([[[-1.0, 1.0]], [[0.0, 2.0]]]), atol=1e-6)


def test_batch_transform_accepts_samples_or_a_batched_pair() -> None:
    collate = BatchTransform(Normalize((0.0,), (1.0,)))
    images = torch.zeros(2, 1, 3, 3, dtype=torch.uint8)
    from_samples = collate([(images[0], 3), (images[1], 4)])
    from_pair = collate((images, torch.tensor([3, 4])))
    for x, y in (from_samples, from_pair):
        assert x.shape == (2, 1, 3, 3) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and y.tolist() == [3, 4]


def test_stratified_split_sizes_and_determinism() -> None:
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = stratified_split(labels, 0.2, seed=1)
    assert len(val) == 20 and len(train) == 80
    assert sorted(np.bincount(labels[val]).tolist()) == [4, 6, 10]
    assert set(train).isdisjoint(val) and len(set(train) | set(val)) == 100
    again = stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=2)[1], val)


def test_stratified_split_keeps_every_class_on_both_sides() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    train, val = stratified_split(labels, 0.1, seed=0)
    assert set(labels[train]) == {0, 1, 2}
    assert set(labels[val]) == {0, 1}  # a class with one sample stays in train
