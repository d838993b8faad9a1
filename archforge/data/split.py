"""Seeded, stratified train/validation split of label arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archforge.typed import require


def check_fraction(value: float, path: str) -> None:
    require(0.0 < value < 1.0, path, value, "a fraction strictly between 0 and 1")


def stratified_split(
    labels: Sequence[int] | np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices), each sorted, holding out `val_fraction` of every class.

    The total held out is `round(len(labels) * val_fraction)`, shared between classes by
    largest remainder so per-class rounding does not drift; every class with at least two
    samples keeps at least one in each part. Same labels and seed give the same split.
    """
    y = np.asarray(labels)
    if y.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quotas = counts * val_fraction
    n_val = np.floor(quotas).astype(int)
    short = round(len(y) * val_fraction) - int(n_val.sum())
    # Stable sort: ties go to the lower class, so the split never depends on sort internals.
    for i in np.argsort(-(quotas - n_val), kind="stable")[: max(short, 0)]:
        n_val[i] += 1
    n_val = np.where(counts >= 2, np.clip(n_val, 1, counts - 1), 0)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for cls, k in zip(classes, n_val, strict=True):
        members = rng.permutation(np.flatnonzero(y == cls))
        val.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def check_classes(classes: list[int], path: str, total: int = 10) -> None:
    """A subset of class indices: each in 0..total-1, at most once, at least two."""
    require(all(0 <= c < total for c in classes), path, classes,
            f"class indices between 0 and {total - 1}, or null")
    require(len(set(classes)) == len(classes), path, classes, "each class at most once")
    require(len(classes) >= 2, path, classes, "at least 2 classes")


def keep_classes(labels: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the samples whose label is in `classes`, their labels renumbered 0..k-1 in
    the order of `classes`)."""
    keep = np.isin(labels, classes)
    relabel = np.full(int(max(labels.max(initial=0), max(classes))) + 1, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return keep, relabel[labels[keep]]
