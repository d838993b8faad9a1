"""Which pruner keeps the winner? No pruning, median, Hyperband (bootstrap 0 and 1) on a
fixed Fashion-MNIST subset, at equal trial counts, sampler and seeds (not a test).

One real `archforge search` trains every candidate to the end without pruning (random
sampler, one worker); its per-epoch validation curves are then replayed through each
pruner exactly as the training callback drives it (report after every epoch, ask the
pruner, never prune at the last epoch; archforge's `search.min_completed` wrapper on top).
With a random sampler the candidates do not depend on earlier results, and training is
seeded, so the replay is the search each pruner would have run - and every pruned trial's
full curve is known: "would it have beaten the winner" is answered for all of them, not
for a sample. Optionally (--check) one pruned arm is also run as a real search and its
per-trial verdicts compared with the replay.

Reported per arm: best validation accuracy, epochs spent, trials pruned, and pruned trials
whose full training would have beaten the arm's winner.

    nice -n 10 python bench/bench_pruners.py --trials 10 --epochs 5 --subset 2000
    python bench/bench_pruners.py --trials 3 --epochs 2 --subset 400    # smoke run

The space is conf/search/fashion.yaml's with narrower bounds (--max-width, --max-depth) so
that a 2-core machine runs it in minutes; --max-width 1.5 --max-depth 3 is the shipped one.

Prints a Markdown table; --json writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import ROOT, run_search

from archforge.search.first_winner import FirstWinnerPruner
from archforge.search.pruners import make_pruner
from archforge.search.runtime.study import open_storage, verdict

STUDY = "fashion"
ARMS: dict[str, Any] = {
    "none": "none",
    "median": {"name": "median", "n_startup_trials": 4, "n_warmup_steps": 1},
    "hyperband b0": {"name": "hyperband", "min_resource": 1, "reduction_factor": 3,
                     "bootstrap_count": 0},
    "hyperband b1": {"name": "hyperband", "min_resource": 1, "reduction_factor": 3,
                     "bootstrap_count": 1},
    # the first rung later: nothing is judged on its first epoch or two
    "hyperband b1, min 2": {"name": "hyperband", "min_resource": 2, "reduction_factor": 3,
                            "bootstrap_count": 1},
    "hyperband b1, min 3": {"name": "hyperband", "min_resource": 3, "reduction_factor": 3,
                            "bootstrap_count": 1},
}


def replay(trials: list[FrozenTrial], spec: Any, max_epochs: int) -> dict[str, Any]:
    """Drive a fresh study with `spec`'s pruner through the recorded curves, in order."""
    pruner = FirstWinnerPruner(make_pruner(spec, max_epochs), 1)
    study = optuna.create_study(study_name=STUDY, direction="maximize", pruner=pruner)
    epochs, rows = 0, []
    for t in trials:
        curve = list(t.user_attrs.get("curve") or [])
        live = study.ask()
        if verdict(t) != "COMPLETE" or len(curve) < max_epochs:  # infeasible or failed
            study.tell(live, state=TrialState.PRUNED if verdict(t) == "INFEASIBLE"
                       else TrialState.FAIL)
            continue
        stopped = None
        for step, value in enumerate(curve, start=1):
            live.report(value, step)
            if step < max_epochs and live.should_prune():
                stopped = step
                break
        spent = stopped or max_epochs
        epochs += spent
        if stopped:
            study.tell(live, state=TrialState.PRUNED)
        else:
            study.tell(live, curve[-1])
        rows.append({"number": t.number, "pruned_at": stopped, "final": curve[-1]})
    complete = [r for r in rows if r["pruned_at"] is None]
    best = max((r["final"] for r in complete), default=float("nan"))
    pruned = [r for r in rows if r["pruned_at"] is not None]
    return {
        "best_acc": best,
        "epochs": epochs,
        "complete": len(complete),
        "pruned": len(pruned),
        "pruned_beating_winner": sum(r["final"] > best for r in pruned),
        "verdicts": {r["number"]: ("PRUNED" if r["pruned_at"] else "COMPLETE") for r in rows},
    }


def narrowed(folder: Path, max_width: float, max_depth: int) -> str:
    """conf/search/fashion.yaml with the width and depth bounds lowered; its file path."""
    spec = yaml.safe_load((ROOT / "conf" / "search" / "fashion.yaml").read_text())
    width = spec["space"]["model.width"]
    width["low"] = min(width["low"], max_width / 2)
    width["high"] = max_width
    spec["space"]["model.stages.*.depth"]["high"] = max_depth
    path = folder / "fashion_bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def load_trials(journal: Path) -> list[FrozenTrial]:
    study = optuna.load_study(study_name=STUDY, storage=open_storage(str(journal)))
    return sorted(study.get_trials(), key=lambda t: t.number)


def print_table(out: dict[str, Any], args: argparse.Namespace, wall: float) -> None:
    none = out["arms"]["none"]
    print(f"\n{args.trials} trials x {args.epochs} epochs, random sampler seed {args.seed}, "
          f"subset {args.subset} (val fraction {args.val_fraction}), width <= "
          f"{args.max_width}, depth <= {args.max_depth}; unpruned search {wall:.0f} s\n")
    print("| pruner | best val acc | gap to none (points) | epochs | vs none | pruned | "
          "pruned that would beat the winner |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in out["arms"].items():
        gap = 100 * (none["best_acc"] - r["best_acc"])
        print(f"| {label} | {100 * r['best_acc']:.2f}% | {gap:.2f} | {r['epochs']} | "
              f"{r['epochs'] / none['epochs']:.2f} | {r['pruned']} | "
              f"{r['pruned_beating_winner']} of {r['pruned']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=2000, help="training-file images used")
    parser.add_argument("--val-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=None, help="data.root (default: auto)")
    parser.add_argument("--max-width", type=float, default=0.5)
    parser.add_argument("--max-depth", type=int, default=2)
    parser.add_argument("--check", default=None, help="also run this arm as a real search")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="run the searches in this folder and keep them (default: a "
                        "temporary folder)")
    parser.add_argument("--journal", type=Path, default=None,
                        help="replay this unpruned study's journal instead of running one "
                        "(its finished trials, in order)")
    args = parser.parse_args()
    common = [f"search.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
              f"search.seed={args.seed}", "search.sampler=random", "search.n_workers=1",
              f"data.train_subset={args.subset}", f"data.val_fraction={args.val_fraction}",
              *([f"data.root={args.root}"] if args.root else [])]
    out: dict[str, Any] = {"command": " ".join(sys.argv), "arms": {}}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        space = narrowed(Path(tmp), args.max_width, args.max_depth)
        root = Path(tmp) / "none"
        if args.journal:
            wall = float("nan")
            trials = [t for t in load_trials(args.journal) if t.state.is_finished()]
        else:
            wall = run_search(root, [*common, "search.pruner=none"], space=space)
            trials = load_trials(root / STUDY / "journal.log")
            out["search_wall_s"] = round(wall, 1)
        for label, spec in ARMS.items():
            out["arms"][label] = replay(trials, spec, args.epochs)
        print_table(out, args, wall)
        if args.check:
            spec = ARMS[args.check]
            flow = yaml.safe_dump(spec, default_flow_style=True).strip()
            real = Path(tmp) / "check"
            # `~` then `+`: a dict override would merge into the space's own pruner options
            run_search(real, [*common, "~search.pruner", f"+search.pruner={flow}"], space=space)
            got = {t.number: verdict(t) for t in load_trials(real / STUDY / "journal.log")
                   if verdict(t) in ("COMPLETE", "PRUNED")}
            out["check"] = {"arm": args.check, "real": got,
                            "agrees": got == out["arms"][args.check]["verdicts"]}
            print(f"\nreal search with {args.check}: verdicts agree with the replay: "
                  f"{out['check']['agrees']} (real {got})")
    if args.json:
        for r in out["arms"].values():
            r["verdicts"] = {str(k): v for k, v in r["verdicts"].items()}
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
