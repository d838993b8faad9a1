"""The Fashion-MNIST recipe end to end, timed per phase (not a test): search a training
subset, retrain the winner with its `best_run` config, evaluate it once on the test set -
beside hand-designed ResNet-20 trained with the same retrain budget.

Every phase is the `archforge` command a user types (docs/fashion_mnist.md), run as its own
process; the test split is read only by the two `test=true` retrains.

    nice -n 10 python bench/bench_fashion_recipe.py                       # reduced budget
    python bench/bench_fashion_recipe.py --search-trials 16 --search-epochs 6 \\
        --search-subset 12000 --retrain-epochs 30 --retrain-subset 0       # the full recipe

`--retrain-subset 0` retrains on all 54,000 training images (the 6,000 others validate).
Prints a Markdown table with each phase's command, wall time and result; --json saves it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def archforge(args: list[str]) -> float:
    """Run one archforge command; its wall time in seconds."""
    cmd = [sys.executable, "-m", "archforge.cli", *args]
    print("$ archforge " + " ".join(args), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall


def params(run_dir: Path) -> int:
    from archforge.checkpoint import load_network

    net, _ = load_network(run_dir / "checkpoints" / "best.ckpt")
    return sum(p.numel() for p in net.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "fashion_recipe")
    parser.add_argument("--search-trials", type=int, default=4)
    parser.add_argument("--search-epochs", type=int, default=2)
    parser.add_argument("--search-subset", type=int, default=3000)
    parser.add_argument("--retrain-epochs", type=int, default=3)
    parser.add_argument("--retrain-subset", type=int, default=12000, help="0: all")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-search", action="store_true",
                        help="reuse the search already in --root (retrain and baseline only)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    root = args.root.resolve()
    subset = "null" if args.retrain_subset == 0 else str(args.retrain_subset)
    retrain = [f"trainer.max_epochs={args.retrain_epochs}", f"data.train_subset={subset}",
               "test=true", "progress=false", "overwrite=true"]
    phases: list[dict[str, Any]] = []
    search = ["search", "search=fashion", f"search.root={root / 'search'}",
              f"search.n_trials={args.search_trials}", f"trainer.max_epochs={args.search_epochs}",
              f"data.train_subset={args.search_subset}", "search.progress=false"]
    if not args.skip_search:
        phases.append({"phase": "search", "command": " ".join(search),
                       "wall_s": archforge(search)})
        save(args, root, phases)
    runs = [("retrain winner", ["train", "-cd", str(root / "search" / "fashion"), "-cn",
                                "best_run"]),
            ("ResNet-20", ["train", "model=resnet20", "data=fashion_mnist", "optim.lr=0.1"])]
    for label, head in runs[:1] if args.skip_baseline else runs:
        run_dir = root / label.replace(" ", "_").replace("-", "").lower()
        cmd = [*head, *retrain, f"run_dir={run_dir}"]
        wall = archforge(cmd)
        result = json.loads((run_dir / "evaluation_test.json").read_text())
        phases.append({"phase": label, "command": " ".join(cmd), "wall_s": wall,
                       "test_acc": result["accuracy"], "params": params(run_dir)})
        save(args, root, phases)  # each phase as it ends: a long run keeps what it measured
    print("\n| phase | wall time | test accuracy | params | command |")
    print("|---|---:|---:|---:|---|")
    for p in phases:
        acc = f"{100 * p['test_acc']:.2f}%" if "test_acc" in p else "-"
        size = f"{p['params']:,}" if "params" in p else "-"
        print(f"| {p['phase']} | {p['wall_s']:.0f} s | {acc} | {size} | "
              f"`archforge {p['command']}` |")
    if not args.skip_search:
        total = phases[0]["wall_s"] + phases[1]["wall_s"]
        print(f"\nsearch + retrain: {total / 60:.1f} min wall")
    save(args, root, phases)


def save(args: argparse.Namespace, root: Path, phases: list[dict[str, Any]]) -> None:
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"root": str(root)},
                                         "phases": phases}, indent=1, default=str))


if __name__ == "__main__":
    main()
