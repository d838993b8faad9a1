"""Benchmark archforge search on the digits data (not a test).

1. Pruning: the `resnet_cifar` space with Hyperband against the same search without
   pruning - same trial count, sampler and seed - in one run: best val/acc of each and the
   total training epochs spent. Target: within 0.5 points of the unpruned best with at most
   40% of its epochs.
2. Workers: trials per hour with 1 and 2 local worker processes (torch threads per worker =
   cores // workers) on the same fixed trial budget. Target: 2 workers >= 1.7x.

    python bench/bench_search.py --part pruning        # 40 trials x 27 epochs, about 12 min
    python bench/bench_search.py --part pruning --trials 20 --epochs 9
    python bench/bench_search.py --part workers --worker-trials 16 --worker-epochs 5

Every search runs as its own `archforge search` process in a fresh temporary root, so no
study is resumed by accident. Prints a Markdown table and writes --json if given.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]


def run_search(root: Path, overrides: list[str], space: str = "resnet_cifar") -> float:
    cmd = [sys.executable, "-m", "archforge.cli", "search", f"search={space}",
           f"search.root={root}", "search.progress=false", *overrides]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"search failed ({' '.join(cmd)}):\n{proc.stdout}\n{proc.stderr}")
    return wall


def summarize(root: Path, name: str) -> dict[str, Any]:
    from archforge.search.study import open_storage

    study = optuna.load_study(study_name=name,
                              storage=open_storage(str(root / name / "journal.log")))
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return {
        "trials": len(trials),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "infeasible": sum(bool(t.user_attrs.get("infeasible")) for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "epochs": sum(int(t.user_attrs.get("epochs", 0)) for t in trials),
        "best_acc": max((t.values[0] for t in complete), default=float("nan")),
        # from the first trial's start to the last one's end: process start-up excluded
        "span_s": _span(trials),
    }


def _span(trials: list[optuna.trial.FrozenTrial]) -> float:
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    if not starts or not ends:
        return float("nan")
    return (max(ends) - min(starts)).total_seconds()


def pruning(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    common = [f"search.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
              f"search.seed={args.seed}", "search.sampler=tpe"]
    out: dict[str, Any] = {}
    # The pruned arm uses the space's own pruner (what ships) unless --pruner says otherwise.
    shipped = yaml.safe_load((ROOT / "conf" / "search" / "resnet_cifar.yaml").read_text())
    pruned = args.pruner or yaml.safe_dump(shipped["pruner"], default_flow_style=True).strip()
    out["pruner"] = pruned
    for label, pruner in (("hyperband", pruned), ("none", "none")):
        root = tmp / f"pruning_{label}"
        wall = run_search(root, [*common, f"search.pruner={pruner}"])
        out[label] = {**summarize(root, "resnet_cifar"), "wall_s": round(wall, 1)}
        print(label, out[label], flush=True)
    h, n = out["hyperband"], out["none"]
    out["acc_gap_points"] = round(100 * (n["best_acc"] - h["best_acc"]), 2)
    out["epoch_ratio"] = round(h["epochs"] / max(1, n["epochs"]), 3)
    return out


def workers(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Every trial trains the same network (all parameters pinned), so 1 and 2 workers do
    # identical work and the ratio measures the workers alone, not which candidates the
    # per-worker sampler seeds happened to draw.
    spec = yaml.safe_load((ROOT / "conf" / "search" / "resnet_cifar.yaml").read_text())
    spec["space"] = {
        "model.block": {"value": "basic"},
        "model.shortcut": {"value": "zero_pad"},
        "model.width": {"value": 1.0},
    }
    space = tmp / "resnet_cifar_pinned.yaml"
    space.write_text(yaml.safe_dump(spec))
    # fixed work per trial: no pruning, so both runs train the same epochs per trial
    common = [f"search.n_trials={args.worker_trials}", f"trainer.max_epochs={args.worker_epochs}",
              "search.pruner=none", "search.sampler=random", f"search.seed={args.seed}"]
    for n in (1, 2):
        root = tmp / f"workers_{n}"
        wall = run_search(root, [*common, f"search.n_workers={n}"], space=str(space))
        s = summarize(root, "resnet_cifar")
        out[f"{n}"] = {**s, "wall_s": round(wall, 1),
                       "trials_per_hour": round(3600 * s["trials"] / wall, 1),
                       "steady_trials_per_hour": round(3600 * s["trials"] / s["span_s"], 1)}
        print(n, "worker(s)", out[f"{n}"], flush=True)
    out["speedup"] = round(out["2"]["trials_per_hour"] / out["1"]["trials_per_hour"], 2)
    out["steady_speedup"] = round(
        out["2"]["steady_trials_per_hour"] / out["1"]["steady_trials_per_hour"], 2
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("all", "pruning", "workers"), default="all")
    # 27 epochs gives Hyperband 4 brackets; with 9 its unpruned bracket alone is ~18% of trials
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--pruner", help="pruner spec for the pruned arm (default: the space's own)")
    p.add_argument("--worker-trials", type=int, default=12)
    p.add_argument("--worker-epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results: dict[str, Any] = {"args": vars(args) | {"json": str(args.json)}}
    with tempfile.TemporaryDirectory(prefix="bench_search_") as d:
        tmp = Path(d)
        if args.part in ("all", "pruning"):
            results["pruning"] = pruning(args, tmp)
        if args.part in ("all", "workers"):
            results["workers"] = workers(args, tmp)
    if "pruning" in results:
        r = results["pruning"]
        print("\n| search | best val/acc | epochs | complete / pruned / infeasible | wall |")
        print("|---|---|---|---|---|")
        for label in ("hyperband", "none"):
            x = r[label]
            print(f"| {label} | {x['best_acc']:.4f} | {x['epochs']} | {x['complete']} / "
                  f"{x['pruned'] - x['infeasible']} / {x['infeasible']} | {x['wall_s']} s |")
        print(f"\npruner {r['pruner']}")
        print(f"accuracy gap {r['acc_gap_points']} points, epochs {100 * r['epoch_ratio']:.0f}%"
              " of unpruned")
    if "workers" in results:
        w = results["workers"]
        print("\n| workers | trials | wall (start-up included) | trials/hour | "
              "first start to last end | trials/hour |\n|---|---|---|---|---|---|")
        for n in ("1", "2"):
            x = w[n]
            print(f"| {n} | {x['trials']} | {x['wall_s']} s | {x['trials_per_hour']} | "
                  f"{x['span_s']:.1f} s | {x['steady_trials_per_hour']} |")
        print(f"\nspeed-up {w['speedup']}x with start-up, {w['steady_speedup']}x steady state")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
