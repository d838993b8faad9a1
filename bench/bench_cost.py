"""How building, validating and search-space compiling grow with the size of a network.

* CIFAR ResNets (He et al. 2015, Sec. 4.2) from resnet20 to resnet1202 (6n+2 layers, 3n
  basic blocks): validate = parse + shape check on the meta device (`archforge.summary`),
  build = the real network with initialised weights (`archforge.build`).
* Every zoo model (`conf/model/*.yaml` that is not a search base).
* The search-space compiler (`compile_space`) on a base network of S stages with one depth
  parameter per stage plus block, shortcut and width, up to 50 parameters.

Time is the median of `--repeats` runs; peak memory is the rise of this process's peak
resident set (VmHWM, reset before each step through /proc/self/clear_refs) over the resident
set before the step. A table goes to stdout, a PNG plot of time against blocks to
bench/figures/cost_growth.png, and the growth verdict: the log-log slope of time against
blocks between the two largest CIFAR depths (1.0 is linear).

    python bench/bench_cost.py                  # about 1-3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import archforge
from archforge.config.compose import compose, zoo_names
from archforge.search.space.search_space import compile_space

FIGURES = Path(__file__).resolve().parent / "figures"
CIFAR_N = (3, 5, 7, 9, 18, 36, 72, 200)  # resnet20 ... resnet110, 218, 434, 1202


def _status(key: str) -> int:
    """A /proc/self/status value in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def measure(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(median seconds, peak extra MiB) of `fn()`."""
    times, peaks = [], []
    for _ in range(repeats):
        gc.collect()
        with contextlib.suppress(OSError):  # not Linux: peaks then include earlier steps
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status("VmRSS")
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
        peaks.append((_status("VmHWM") - before) / 2**20)
        del result
    return statistics.median(times), max(peaks)


def cifar_resnet(n: int) -> dict[str, Any]:
    cfg = compose(["model=resnet20"], "build")  # the model's own input size and classes
    mapping = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(mapping, dict)
    mapping["name"] = f"resnet{6 * n + 2}"
    for stage in mapping["stages"]:
        stage["depth"] = n
    return mapping


def blocks(mapping: dict[str, Any]) -> int:
    return sum(int(s.get("depth", 1)) for s in mapping["stages"])


def space_case(stages: int) -> tuple[dict[str, Any], Any]:
    """A base of `stages` basic-block stages and a space with stages + 3 parameters."""
    cfg = compose(["model=resnet20"])
    widths = [16 * 2 ** min(i * 3 // stages, 2) for i in range(stages)]
    cfg.model.stages = [{"depth": 1, "out_channels": w, "stride": 1} for w in widths]
    raw = {"model.block": ["basic", "bottleneck"],
           "model.shortcut": ["projection", "zero_pad"],
           "model.width": {"type": "float", "low": 0.5, "high": 2.0, "log": True},
           "model.stages.*.depth": {"type": "int", "low": 1, "high": 9}}
    return raw, cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    archforge.summary(cifar_resnet(3))  # warm-up: plugin discovery, first-call costs

    rows: list[tuple[str, int, int, float, float, float, float]] = []
    print("| model | blocks | params | validate s | validate MiB | build s | build MiB |")
    print("|---|---|---|---|---|---|---|")

    def run(name: str, mapping: dict[str, Any]) -> None:
        reps = args.repeats if blocks(mapping) <= 100 else 1
        val_s, val_mb = measure(lambda: archforge.summary(mapping), reps)
        params = archforge.summary(mapping).total_params
        build_s, build_mb = measure(lambda: archforge.build(mapping), reps)
        rows.append((name, blocks(mapping), params, val_s, val_mb, build_s, build_mb))
        print(f"| {name} | {blocks(mapping)} | {params / 1e6:.2f}M | {val_s:.3f} | "
              f"{val_mb:.0f} | {build_s:.3f} | {build_mb:.0f} |", flush=True)

    for n in CIFAR_N:
        run(f"resnet{6 * n + 2} (CIFAR)", cifar_resnet(n))
    cifar = list(rows)
    for name in zoo_names():
        mapping = OmegaConf.to_container(compose([f"model={name}"], "build").model, resolve=True)
        assert isinstance(mapping, dict)
        run(name, mapping)

    print("\n| search space | parameters | compile_space s |")
    print("|---|---|---|")
    space_rows = []
    for stages in (5, 10, 20, 30, 40, 47):
        raw, base = space_case(stages)
        t, _ = measure(lambda raw=raw, base=base: compile_space(raw, base), args.repeats)
        n_params = len(compile_space(raw, base).params)
        space_rows.append((n_params, t))
        print(f"| {stages} stages | {n_params} | {t:.4f} |", flush=True)

    # Growth: log-log slope between the two largest CIFAR nets (time ~ blocks ** slope).
    (_, b1, _, v1, _, s1, _), (_, b2, _, v2, _, s2, _) = cifar[-2], cifar[-1]
    k = math.log(b2 / b1)
    print(f"\nlog-log slope {b1} -> {b2} blocks: validate {math.log(v2 / v1) / k:.2f}, "
          f"build {math.log(s2 / s1) / k:.2f} (1.0 = linear)")
    print("seconds per block, CIFAR ResNets: validate "
          + ", ".join(f"{r[3] / r[1] * 1e3:.2f}" for r in cifar) + " ms; build "
          + ", ".join(f"{r[5] / r[1] * 1e3:.2f}" for r in cifar) + " ms")
    (p1, c1), (p2, c2) = space_rows[-2], space_rows[-1]
    print(f"compile_space log-log slope {p1} -> {p2} parameters: "
          f"{math.log(c2 / c1) / math.log(p2 / p1):.2f}")
    if not args.no_plot:
        plot(cifar, rows[len(cifar):], space_rows)


def plot(cifar: list[tuple], zoo: list[tuple], space: list[tuple[int, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for col, label, marker in ((3, "validate (meta device)", "o"), (5, "build (weights)", "s")):
        ax.plot([r[1] for r in cifar], [r[col] for r in cifar], marker=marker,
                label=f"CIFAR ResNet {label}")
        ax.scatter([r[1] for r in zoo], [r[col] for r in zoo], marker=marker, alpha=0.5,
                   label=f"zoo {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("blocks")
    ax.set_ylabel("seconds")
    ax.set_title("build and validate time vs blocks")
    ax.legend(fontsize=7)
    ax2.plot([p for p, _ in space], [t * 1e3 for _, t in space], marker="o")
    ax2.set_xlabel("search parameters (one depth per stage + 3)")
    ax2.set_ylabel("compile_space ms")
    ax2.set_title("search-space compiler")
    fig.tight_layout()
    FIGURES.mkdir(parents=True, exist_ok=True)
    out = FIGURES / "cost_growth.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
