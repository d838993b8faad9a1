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
