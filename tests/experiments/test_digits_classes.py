"""`data.classes`: a subset of the digits, relabelled 0..k-1 (used by the transfer experiment)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from archforge.data import DigitsDataModule, build_datamodule
from archforge.errors import ConfigError


def _built(**overrides: object) -> DigitsDataModule:
    dm = build_datamodule({"name": "digits", **overrides})
    assert isinstance(dm, DigitsDataModule)
    dm.setup("fit")
    return dm


def test_subset_keeps_only_those_digits_relabelled_in_order() -> None:
    dm = _built(classes=[7, 2], num_classes=2)
    counts = np.bincount(load_digits().target, minlength=10)
    train, val = dm.train_set, dm.val_set
    assert len(train) + len(val) == counts[7] + counts[2]  # type: ignore[arg-type]
    labels = torch.cat([train.labels, val.labels])  # type: ignore[union-attr]
    assert sorted(labels.unique().tolist()) == [0, 1]
    assert int((labels == 0).sum()) == counts[7]  # 7 -> 0, 2 -> 1: the order given
    assert dm.class_names == ["7", "2"]
    # The images are the real 7s: the same pixels as the full set's 7s, in the same order.
    digits = load_digits()
    sevens = torch.from_numpy(digits.images[digits.target == 7].astype(np.float32) / 16.0)
    ours = torch.cat([train.images, val.images])[labels == 0]  # type: ignore[union-attr]
    assert {tuple(x.flatten().tolist()) for x in ours.squeeze(1)} == {
        tuple(x.flatten().tolist()) for x in sevens
    }


def test_null_keeps_all_ten() -> None:
    dm = _built(classes=None)
    assert len(dm.train_set) + len(dm.val_set) == 1797  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("classes", "num_classes", "expected"),
    [
        ([0, 10], 2, "class indices between 0 and 9"),
        ([3, 3, 4], 3, "each class at most once"),
        ([5], 1, "at least 2"),
        ([0, 1, 2], 10, "data.num_classes: got 10; expected 3, one per entry of data.classes"),
        ("0-4", 10, "data.classes: got '0-4'"),
    ],
)
def test_bad_subsets_are_one_config_error(
    classes: object, num_classes: int, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "digits", "classes": classes, "num_classes": num_classes})
    assert expected in str(info.value)
