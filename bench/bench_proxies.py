"""Zero-cost proxies against NAS-Bench-201: Spearman rank correlation with the table.

For a seeded sample of cells, builds archforge's `nb201` network (PyTorch's default
initialisation, seed 0 per network), computes each proxy and correlates it with the table's
mean validation accuracy (CIFAR-10 valid by default), beside the figures Abdelfattah et al.
(ICLR 2021, Table 1, NAS-Bench-201 CIFAR-10) publish. synflow, params and MACs need no
images, so they are reproduced here as published; the data-dependent proxies (naswot, snip,
grad_norm) are computed on one batch of scikit-learn's digits, upsampled to 32x32 and
repeated over 3 channels - not CIFAR images - and are labelled so.

    python bench/bench_proxies.py --archs 1000 --proxies synflow params macs \
        --save bench/figures/nb201_proxies.json
    python bench/bench_proxies.py --archs 200 --batch 16 --proxies naswot snip grad_norm
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

import archforge
from archforge.model.builder import build_network
from archforge.search.proxies import DATA_FREE, PROXIES, score
from archforge.search.strategy.nb201_table import load_table

PUBLISHED = {"synflow": 0.74, "jacob_cov": 0.73, "snip": 0.58, "grad_norm": 0.58,
             "naswot": None, "params": None, "macs": None}


def digits_batch(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n digits images, standardised, upsampled to size x size, 3 channels, and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = random.Random(seed)
    idx = rng.sample(range(len(digits.target)), n)
    x = torch.tensor(digits.images[idx], dtype=torch.float32).unsqueeze(1) / 16.0
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
    x = ((x - x.mean()) / x.std()).repeat(1, 3, 1, 1)
    return x, torch.tensor(digits.target[idx], dtype=torch.long)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=1000)
    ap.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100", "imagenet"))
    ap.add_argument("--proxies", nargs="*", default=None, help="default: all")
    ap.add_argument("--batch", type=int, default=64, help="images for data-dependent proxies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default=None,
                    help="write {cell key: {proxy: value}} as JSON (bench_search_quality.py "
                         "reads bench/figures/nb201_proxies.json for pre-screening)")
    args = ap.parse_args(argv)
    from archforge_plugins.nb201 import format_arch

    table = load_table(args.dataset)
    d = table.data
    cfg = archforge.resolve("nb201", [f"model.in_channels={d.in_channels}",
                                      f"model.num_classes={d.num_classes}",
                                      f"model.input_size={d.input_size}"])
    names = args.proxies or PROXIES.names()
    keys = random.Random(args.seed).sample(sorted(table.entries), args.archs)
    batch = digits_batch(args.batch, d.input_size)
    batch = (batch[0], batch[1] % d.num_classes)
    values: dict[str, list[float]] = {n: [] for n in names}
    acc = []
    started = time.perf_counter()
    for key in keys:
        torch.manual_seed(0)
        arch = format_arch(table.ops(key))
        net = build_network(dataclasses.replace(cfg, block_options={"arch": arch}))
        for name, v in score(net, batch, names).items():
            values[name].append(v)
        acc.append(table.entries[key].mean_acc)
    took = time.perf_counter() - started
    if args.save:
        rows = {key: {n: values[n][i] for n in names} for i, key in enumerate(keys)}
        Path(args.save).write_text(json.dumps({"dataset": args.dataset, "cells": rows}))
    print(f"{args.archs} cells of NAS-Bench-201, {d.title} mean validation accuracy, "
          f"{took:.0f} s ({1000 * took / args.archs:.0f} ms per cell)")
    print("| proxy | Spearman rho (archforge) | published (Abdelfattah et al. 2021) | data |")
    print("|---|---|---|---|")
    for name in names:
        rho = spearmanr(values[name], acc).statistic
        pub = PUBLISHED.get(name)
        data = ("none" if name in DATA_FREE
                else f"digits, batch of {args.batch}, upsampled to {d.input_size}x{d.input_size}x3")
        print(f"| {name} | {rho:.3f} | {'-' if pub is None else f'{pub:.2f}'} | {data} |")


if __name__ == "__main__":
    main()
