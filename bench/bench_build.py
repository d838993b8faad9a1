"""Assembled vs hand-written networks: training-step time, and the cost of compose/validate/build.

Run: python bench/bench_build.py [--rounds N]
Step times are measured interleaved (A, B, B, A, ...) in one process so that machine noise
hits both sides alike; the reported ratio is median(archforge) / median(hand-written).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from handwritten import ResNet20, ResNet50

import archforge
from archforge.config.compose import model_mapping
from archforge.model.builder import build_network
from archforge.model.check import check
from archforge.model.parse import parse_model


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor) -> Callable[[], float]:
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        return time.perf_counter() - start

    return step


def compare(name: str, ours: nn.Module, hand: nn.Module, batch: int, size: int,
            rounds: int) -> float:
    n_ours = sum(p.numel() for p in ours.parameters())
    n_hand = sum(p.numel() for p in hand.parameters())
    assert n_ours == n_hand, (n_ours, n_hand)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch,))
    steps = {
        "archforge": train_step(ours, torch.optim.SGD(ours.parameters(), lr=0.01), x, y),
        "hand-written": train_step(hand, torch.optim.SGD(hand.parameters(), lr=0.01), x, y),
    }
    for step in steps.values():  # warm-up: allocator, first optimizer step
        step(), step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    order = list(steps)
    for r in range(rounds):
        for key in order if r % 2 == 0 else order[::-1]:
            times[key].append(steps[key]())
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["archforge"] / med["hand-written"]
    print(f"{name:<10} batch {batch} {size}x{size}: archforge {med['archforge'] * 1e3:8.1f} ms"
          f"  hand-written {med['hand-written'] * 1e3:8.1f} ms  ratio {ratio:.3f}"
          f"  ({n_ours:,} params each)")
    return ratio


def build_costs(name: str, repeats: int) -> None:
    phases: dict[str, list[float]] = {"compose": [], "validate": [], "build": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        mapping = model_mapping(name)
        t1 = time.perf_counter()
        cfg = parse_model(mapping)
        check(cfg)
        t2 = time.perf_counter()
        build_network(cfg)
        t3 = time.perf_counter()
        phases["compose"].append(t1 - t0)
        phases["validate"].append(t2 - t1)
        phases["build"].append(t3 - t2)
    parts = "  ".join(
        f"{k} {statistics.median(v):.3f} s (first {v[0]:.3f} s)" for k, v in phases.items()
    )
    print(f"{name}: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    archforge.load_plugins()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds")
    torch.manual_seed(0)
    compare("resnet20", archforge.build("resnet20"), ResNet20(), 128, 32, args.rounds)
    compare("resnet50", archforge.build("resnet50"), ResNet50(), 4, 224, max(4, args.rounds // 2))
    build_costs("resnet152", 5)


if __name__ == "__main__":
    main()
