"""archforge's NAS-Bench-201 network against the table's model size, all 15,625 cells.

Builds every cell's network on the meta device at 10 classes (CIFAR-10) and at 100
(CIFAR-100) and compares its trainable parameters with the table's model size x 1e6. Prints
the number of equal counts and lists the cells that differ, with the difference.

    python bench/bench_nb201_params.py            # about 10 minutes on 2 cores
    python bench/bench_nb201_params.py --limit 500
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import torch

import archforge
from archforge.model.builder import build_network
from archforge.search.strategy.nb201_table import OPS, load_table


def count(cfg: archforge.ModelConfig, ops: tuple[str, ...], classes: int) -> int:
    from archforge_plugins.nb201 import format_arch

    c = dataclasses.replace(cfg, num_classes=classes, block_options={"arch": format_arch(ops)})
    with torch.device("meta"):
        net = build_network(c)
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N cells")
    args = ap.parse_args(argv)
    cfg = archforge.resolve("nb201", ["model.in_channels=3", "model.input_size=32"])
    tables = {"cifar10": (load_table("cifar10"), 10), "cifar100": (load_table("cifar100"), 100)}
    keys = sorted(tables["cifar10"][0].entries)[: args.limit]
    started = time.perf_counter()
    differ: dict[str, list[tuple[str, int]]] = {name: [] for name in tables}
    for key, (name, (table, classes)) in itertools.product(keys, tables.items()):
        ops = tuple(OPS[int(c)] for c in key)
        ours = count(cfg, ops, classes)
        if ours != table.entries[key].params:
            differ[name].append((key, ours - table.entries[key].params))
    took = time.perf_counter() - started
    for name in tables:
        print(f"{name}: {len(keys) - len(differ[name]):,} of {len(keys):,} cells equal the "
              f"table's model size x 1e6; {len(differ[name])} differ")
    same = [k for k, _ in differ["cifar10"]] == [k for k, _ in differ["cifar100"]]
    print(f"the same cells differ in both tables: {same}")
    for key, delta in differ["cifar10"]:
        print(f"  {key} {'|'.join(OPS[int(c)] for c in key)}: archforge - table = {delta:+,}")
    print(f"{2 * len(keys):,} networks built on the meta device in {took:.0f} s")


if __name__ == "__main__":
    main()
