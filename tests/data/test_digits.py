"""The embedded digits data: split, determinism, batches, normalisation, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from archforge.data import DigitsDataModule, build_datamodule
from archforge.errors import ConfigError


def _built(**overrides: object) -> DigitsDataModule:
    dm = build_datamodule({"name": "digits", **overrides})
    assert isinstance(dm, DigitsDataModule)
    dm.setup("fit")
    return dm


def test_split_is_stratified_and_seeded() -> None:
    dm = _built()
    assert (dm.num_classes, dm.channels, dm.image_size) == (10, 1, 8)
    assert dm.class_names == [str(i) for i in range(10)]
    train, val = dm.train_set, dm.val_set
    assert len(train) == 1438 and len(val) == 359  # type: ignore[arg-type]
    val_counts = torch.bincount(val.labels, minlength=10)  # type: ignore[union-attr]
    assert val_counts.min() >= 35 and val_counts.max() <= 37  # 20% of 174..183 per class
    same = _built()
    assert torch.equal(same.val_set.images, val.images)  # type: ignore[union-attr]
    other = _built(seed=1)
    assert not torch.equal(other.val_set.images, val.images)  # type: ignore[union-attr]


def test_batches_are_normalised_float_nchw_with_int64_labels() -> None:
    dm = _built()
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (64, 1, 8, 8) and images.dtype == torch.float32
    assert labels.shape == (64,) and labels.dtype == torch.int64
    everything = torch.cat([x for x, _ in dm.train_dataloader()])
    assert everything.shape[0] == 1438
    assert abs(everything.mean().item()) < 0.03
    assert abs(everything.std().item() - 1.0) < 0.03


def test_shuffling_order_follows_the_seed() -> None:
    first = [next(iter(_built().train_dataloader()))[1] for _ in range(2)]
    assert torch.equal(first[0], first[1])
    reseeded = next(iter(_built(seed=3).train_dataloader()))[1]
    assert not torch.equal(first[0], reseeded)


def test_preprocess_matches_the_validation_pipeline() -> None:
    dm = _built()
    pixels = dm.val_set.images[0, 0] * 255.0  # type: ignore[union-attr]
    image = Image.fromarray(pixels.round().to(torch.uint8).numpy(), mode="L")
    tensor = dm.preprocess(image)
    val_images, _ = next(iter(dm.val_dataloader()))
    assert tensor.shape == (1, 8, 8) and tensor.dtype == torch.float32
    assert torch.allclose(tensor, val_images[0], atol=0.5 / 255 / 0.376 + 1e-6)


def test_larger_image_size_upsamples_in_memory() -> None:
    dm = _built(image_size=16)
    images, _ = next(iter(dm.val_dataloader()))
    assert images.shape[1:] == (1, 16, 16)


def test_optional_shift_augments_train_but_not_val() -> None:
    plain, shifted = _built(), _built(augment={"crop_padding": 1})
    torch.manual_seed(0)
    x_plain, y_plain = next(iter(plain.train_dataloader()))
    x_shift, y_shift = next(iter(shifted.train_dataloader()))
    assert torch.equal(y_plain, y_shift)  # same order: augmentation does not touch shuffling
    assert not torch.equal(x_plain, x_shift)
    v_plain, v_shift = (next(iter(m.val_dataloader()))[0] for m in (plain, shifted))
    assert torch.equal(v_plain, v_shift)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"num_classes": 5}, "data.num_classes"),
        ({"channels": 3, "mean": [0.3] * 3, "std": [0.4] * 3}, "data.channels"),
        ({"val_fraction": 1.5}, "data.val_fraction"),
        ({"image_size": 4}, "data.image_size"),
    ],
)
def test_bad_values_name_their_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "digits", **overrides})
    assert info.value.path == key


def test_labels_cover_all_classes() -> None:
    dm = _built()
    assert np.unique(dm.train_set.labels.numpy()).tolist() == list(range(10))  # type: ignore[union-attr]
