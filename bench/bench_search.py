"""Benchmark archforge search on the digits data (not a test).

1. Pruning: the `resnet_cifar` space with Hyperband against the same search without
   pruning - same trial count, sampler and seed - in one run: best val/acc of each and the
   total training epochs spent. Target: within 0.5 points of the unpruned best with at most
   40% of its epochs.
2. Workers: trials per hour, start-up included and in steady state, of one worker (all
   cores as torch threads, as shipped; and one core's share) and of two workers (torch
   threads = cores // 2 each; children forked, as on Linux by default, and spawned) on the
   same fixed trial budget, in alternating order over --worker-rounds rounds.
   Target: 2 workers >= 1.8x one worker, start-up included, on a two-minute search.

    python bench/bench_search.py --part pruning        # 40 trials x 27 epochs, about 12 min
    python bench/bench_search.py --part pruning --trials 20 --epochs 9
    python bench/bench_search.py --part workers          # 4 arms x 2 rounds, about 15 min

Every search runs as its own `archforge search` process in a fresh temporary root, so no
study is resumed by accident. Prints a Markdown table and writes --json if given.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    from archforge.search.runtime.study import open_storage

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


# (label, overrides): one worker as shipped (it takes every core as torch threads), one
# worker holding one core's share, and two workers with children forked (the default on
# Linux) or spawned (elsewhere, or search.start_method=spawn)
WORKER_ARMS = (
    ("1 x all cores", ["search.n_workers=1"]),
    ("1 x 1 thread", ["search.n_workers=1", "search.threads=1"]),
    ("2, forked", ["search.n_workers=2", "search.start_method=fork"]),
    ("2, spawned", ["search.n_workers=2", "search.start_method=spawn"]),
)


def workers(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": []}
    # Every trial trains the same network (all parameters pinned), so every arm does
    # identical work and the ratios measure the workers alone, not which candidates the
    # per-worker sampler seeds happened to draw.
    spec = yaml.safe_load((ROOT / "conf" / "search" / "resnet_cifar.yaml").read_text())
    spec["space"] = {
        "model.block": {"value": "basic"},
        "model.shortcut": {"value": "zero_pad"},
        "model.width": {"value": 1.0},
    }
    space = tmp / "resnet_cifar_pinned.yaml"
    space.write_text(yaml.safe_dump(spec))
    # fixed work per trial: no pruning, so every run trains the same epochs per trial
    common = [f"search.n_trials={args.worker_trials}", f"trainer.max_epochs={args.worker_epochs}",
              "search.pruner=none", "search.sampler=random", f"search.seed={args.seed}"]
    for r in range(args.worker_rounds):
        arms = WORKER_ARMS if r % 2 == 0 else WORKER_ARMS[::-1]  # alternate the order
        results: dict[str, Any] = {}
        for label, overrides in arms:
            root = tmp / f"workers_{r}_{label.replace(' ', '_').replace(',', '')}"
            wall = run_search(root, [*common, *overrides], space=str(space))
            s = summarize(root, "resnet_cifar")
            results[label] = {**s, "wall_s": round(wall, 1),
                              "trials_per_hour": round(3600 * s["trials"] / wall, 1),
                              "steady_trials_per_hour": round(3600 * s["trials"] / s["span_s"],
                                                              1)}
            print(f"round {r}", label, results[label], flush=True)
        out["rounds"].append(results)
    return out


# One training step of the workers' network (ResNet-20 on 8x8 digits, batch 64, the CPU
# default memory format), repeated for a fixed time in its own process: no search at all.
STEP_LOOP = """
import sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
import archforge
from archforge.config.compose import compose
from archforge.training.memory_format import CPU_CHANNELS_LAST, family_of

threads, seconds, sync = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
torch.set_num_threads(threads)
mapping = OmegaConf.to_container(compose(["model=resnet20", "data=digits"]).model, resolve=True)
net = archforge.build(mapping).train()
cl = CPU_CHANNELS_LAST.get(family_of(archforge.resolve(mapping)), False)
if cl:
    net.to(memory_format=torch.channels_last)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))

def step():
    xb = x.contiguous(memory_format=torch.channels_last) if cl else x
    loss = F.cross_entropy(net(xb), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

for _ in range(30):
    step()
(sync / f"ready-{sys.argv[4]}").touch()
while not (sync / "go").exists():
    time.sleep(0.005)
n, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    step()
    n += 1
print(n / seconds)
"""


def _step_rates(copies: int, threads: int, seconds: float, tmp: Path) -> list[float]:
    """Steps/s of `copies` processes running the step loop at the same time."""
    sync = Path(tempfile.mkdtemp(dir=tmp))
    procs = [subprocess.Popen([sys.executable, "-c", STEP_LOOP, str(threads), str(seconds),
                               str(sync), str(i)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for i in range(copies)]
    while len(list(sync.glob("ready-*"))) < copies:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a step-loop process failed")
        time.sleep(0.01)
    (sync / "go").touch()
    return [float(p.communicate()[0].strip()) for p in procs]


def ceiling(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """What the machine allows: one copy of the workers' training step alone (1 thread,
    then all cores) and two 1-thread copies at once, interleaved over the rounds."""
    from archforge.search.runtime.workers import cores as count_cores

    cores = count_cores()
    rounds = []
    for r in range(args.worker_rounds):
        arms = [("1 x 1 thread", 1, 1), (f"1 x {cores} threads", 1, cores),
                ("2 x 1 thread", 2, 1)]
        row = {}
        for label, copies, threads in (arms if r % 2 == 0 else arms[::-1]):
            row[label] = sum(_step_rates(copies, threads, args.ceiling_seconds, tmp))
        rounds.append(row)
        print(f"ceiling round {r}", row, flush=True)
    return {"rounds": rounds, "cores": cores}


def print_ceiling(c: dict[str, Any]) -> None:
    labels = ["1 x 1 thread", f"1 x {c['cores']} threads", "2 x 1 thread"]
    print("\n| round | " + " | ".join(f"{x} (steps/s)" for x in labels)
          + " | 2 copies / 1 x 1 thread | 2 copies / 1 x all cores |\n" + "|---" * 6 + "|")
    for r, row in enumerate(c["rounds"]):
        one, full, two = (row[x] for x in labels)
        print(f"| {r} | {one:.1f} | {full:.1f} | {two:.1f} | {two / one:.2f}x | "
              f"{two / full:.2f}x |")


def print_workers(w: dict[str, Any]) -> None:
    print("\n| round | workers x threads | trials | wall (start-up included) | trials/hour | "
          "first start to last end | trials/hour |\n|---|---|---|---|---|---|---|")
    for r, results in enumerate(w["rounds"]):
        for label, _ in WORKER_ARMS:
            x = results[label]
            print(f"| {r} | {label} | {x['trials']} | {x['wall_s']} s | {x['trials_per_hour']} "
                  f"| {x['span_s']:.1f} s | {x['steady_trials_per_hour']} |")
    print("\nspeed-up of two workers, median over rounds (with start-up / steady state):")
    for two in ("2, forked", "2, spawned"):
        for one in ("1 x all cores", "1 x 1 thread"):
            ratios = [(x[two]["trials_per_hour"] / x[one]["trials_per_hour"],
                       x[two]["steady_trials_per_hour"] / x[one]["steady_trials_per_hour"])
                      for x in w["rounds"]]
            print(f"  {two} vs {one}: {statistics.median([a for a, _ in ratios]):.2f}x / "
                  f"{statistics.median([b for _, b in ratios]):.2f}x  (per round: "
                  + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in ratios) + ")")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("all", "pruning", "workers", "ceiling"), default="all")
    # 27 epochs gives Hyperband 4 brackets; with 9 its unpruned bracket alone is ~18% of trials
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--pruner", help="pruner spec for the pruned arm (default: the space's own)")
    p.add_argument("--worker-trials", type=int, default=40)
    p.add_argument("--worker-epochs", type=int, default=5)
    p.add_argument("--worker-rounds", type=int, default=2)
    p.add_argument("--ceiling-seconds", type=float, default=20.0)
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
        if args.part in ("all", "workers", "ceiling"):
            results["ceiling"] = ceiling(args, tmp)
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
        print_workers(results["workers"])
    if "ceiling" in results:
        print_ceiling(results["ceiling"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
