"""Which pruner keeps the winner? No pruning, median and Hyperband settings on
Fashion-MNIST, at equal trial counts, sampler and seeds, over several seeds (not a test).

Per seed, one real `archforge search` trains every candidate to the end without pruning
(random sampler, one worker); its per-epoch validation curves are then replayed through
each pruner exactly as the training callback drives it (report after every epoch; ask the
pruner only after the optimizer's warm-up and never at the last epoch:
`archforge.search.trial.callback.asks_pruner`, the warm-up read from the study's config;
archforge's `search.min_completed` wrapper on top). With a random sampler the candidates do
not depend on earlier results, and training is seeded, so the replay is the search each
pruner would have run - and every pruned trial's full curve is known: "would it have beaten
the winner" is answered for all of them, not for a sample. Optionally (--check) one pruned
arm is also run as a real search on the first seed and its verdicts compared with the
replay.

Reported per seed and arm: best validation accuracy, gap to the unpruned winner, epochs
spent, trials pruned, pruned trials whose full training would have beaten the arm's winner.
Then, over the seeds: in how many the arm keeps the unpruned winner within --tolerance
points (0.2), its epochs, and the rule of issue #29: the default pruner keeps the winner in
at least 4 of 5 seeds (80%) with the fewest epochs among the arms that do.

    # the measurement: search=fashion's own budget (16 trials x 6 epochs, 12,000 images,
    # the full space), 5 seeds; resumable: rerun the same command with the same --keep
    nice -n 10 python bench/bench_pruners.py --shipped --seeds 0 1 2 3 4 \
        --keep runs/bench_pruners --json bench/pruners_fashion.json
    python bench/bench_pruners.py --trials 2 --epochs 1 --subset 200 --seeds 0   # smoke run

Without --shipped the space is conf/search/fashion.yaml's with narrower bounds
(--max-width, --max-depth) so that a 2-core machine runs it in minutes. --extra passes
overrides to every search (e.g. --extra trainer=gpu); --jobs runs seeds side by side.

Prints Markdown tables; --json writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import ROOT, run_search

from archforge.config.search_settings import DEFAULT_PRUNER
from archforge.config.sections import OptimConfig
from archforge.search.first_winner import FirstWinnerPruner
from archforge.search.pruners import make_pruner
from archforge.search.runtime.study import BASE_CONFIG, open_storage, verdict
from archforge.search.trial.callback import asks_pruner
from archforge.training.optim import warmup_epochs

STUDY = "fashion"
SPACE = ROOT / "conf" / "search" / "fashion.yaml"
ARMS: dict[str, Any] = {
    "none": "none",
    "median": {"name": "median", "n_startup_trials": 4, "n_warmup_steps": 1},
    "hyperband b0": {"name": "hyperband", "min_resource": 1, "reduction_factor": 3,
                     "bootstrap_count": 0},
    "hyperband b1": {"name": "hyperband", "min_resource": 1, "reduction_factor": 3,
                     "bootstrap_count": 1},
    # the first rung later still
    "hyperband b1, min 2": {"name": "hyperband", "min_resource": 2, "reduction_factor": 3,
                            "bootstrap_count": 1},
    "hyperband b1, min 3": {"name": "hyperband", "min_resource": 3, "reduction_factor": 3,
                            "bootstrap_count": 1},
}
# the same pruner asked during the warm-up too, as archforge did before issue #29
UNGATED = "hyperband b1, asked in warm-up"
ARMS[UNGATED] = ARMS["hyperband b1"]
DEFAULT = next(label for label, spec in ARMS.items() if spec == DEFAULT_PRUNER)


def replay(trials: list[FrozenTrial], spec: Any, max_epochs: int,
           warmup: int) -> dict[str, Any]:
    """Drive a fresh study with `spec`'s pruner through the recorded curves, in order, as
    the training callback does (archforge/search/trial/callback.py)."""
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
            if asks_pruner(step, max_epochs, warmup) and live.should_prune():
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


def replay_arms(trials: list[FrozenTrial], max_epochs: int, warmup: int) -> dict[str, Any]:
    return {label: replay(trials, spec, max_epochs, 0 if label == UNGATED else warmup)
            for label, spec in ARMS.items()}


def narrowed(folder: Path, max_width: float, max_depth: int) -> str:
    """conf/search/fashion.yaml with the width and depth bounds lowered; its file path."""
    spec = yaml.safe_load(SPACE.read_text())
    width = spec["space"]["model.width"]
    width["low"] = min(width["low"], max_width / 2)
    width["high"] = max_width
    spec["space"]["model.stages.*.depth"]["high"] = max_depth
    path = folder / "fashion_bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def shipped_budget() -> dict[str, Any]:
    """search=fashion's own trial count, epochs and training subset."""
    spec = yaml.safe_load(SPACE.read_text())
    given = dict(o.split("=", 1) for o in spec["overrides"] if "=" in o)
    return {"trials": int(spec["n_trials"]), "epochs": int(given["trainer.max_epochs"]),
            "subset": int(given["data.train_subset"])}


def load_study(journal: Path) -> tuple[list[FrozenTrial], int]:
    """The study's trials in order, and the epochs its optimizer warms up for."""
    study = optuna.load_study(study_name=STUDY, storage=open_storage(str(journal)))
    optim = (study.user_attrs.get(BASE_CONFIG) or {}).get("optim") or {}
    warmup = warmup_epochs(OptimConfig(warmup_epochs=float(optim.get("warmup_epochs", 0.0))))
    return sorted(study.get_trials(), key=lambda t: t.number), warmup


def print_table(arms: dict[str, Any], title: str) -> None:
    none = arms["none"]
    print(f"\n{title}\n")
    print("| pruner | best val acc | gap to none (points) | epochs | vs none | pruned | "
          "pruned that would beat the winner |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in arms.items():
        gap = 100 * (none["best_acc"] - r["best_acc"])
        name = f"**{label} (the default)**" if label == DEFAULT else label
        print(f"| {name} | {100 * r['best_acc']:.2f}% | {gap:.2f} | {r['epochs']} | "
              f"{r['epochs'] / none['epochs']:.2f} | {r['pruned']} | "
              f"{r['pruned_beating_winner']} of {r['pruned']} |", flush=True)


def summarize(per_seed: dict[int, dict[str, Any]], tolerance: float) -> dict[str, Any]:
    """Per arm over the seeds: seeds where it kept the unpruned winner within `tolerance`
    points, mean gap, epochs; and issue #29's rule (>= 80% of the seeds, fewest epochs)."""
    n = len(per_seed)
    need = math.ceil(0.8 * n)
    rows: dict[str, Any] = {}
    for label in ARMS:
        gaps = [100 * (arms["none"]["best_acc"] - arms[label]["best_acc"])
                for arms in per_seed.values()]
        epochs = sum(arms[label]["epochs"] for arms in per_seed.values())
        rows[label] = {"kept": sum(g <= tolerance + 1e-9 for g in gaps),
                       "mean_gap": sum(gaps) / n, "worst_gap": max(gaps), "epochs": epochs,
                       "vs_none": epochs / sum(a["none"]["epochs"] for a in per_seed.values())}
    qualified = [label for label in ARMS if label != "none" and rows[label]["kept"] >= need]
    fewest = min(qualified, key=lambda label: rows[label]["epochs"], default=None)
    met = DEFAULT in qualified and rows[DEFAULT]["epochs"] <= rows[str(fewest)]["epochs"]
    return {"seeds": n, "need": need, "arms": rows, "fewest_epochs_that_keep": fewest,
            "default": DEFAULT, "default_meets_rule": met}


def print_summary(summary: dict[str, Any], tolerance: float) -> None:
    n = summary["seeds"]
    print(f"\nOver {n} seeds: kept = the arm's best within {tolerance} points of the "
          "unpruned search's best\n")
    print("| pruner | kept | mean gap (points) | worst gap | epochs | vs none |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in summary["arms"].items():
        name = f"**{label} (the default)**" if label == DEFAULT else label
        print(f"| {name} | {r['kept']} of {n} | {r['mean_gap']:.2f} | {r['worst_gap']:.2f} | "
              f"{r['epochs']} | {r['vs_none']:.2f} |")
    print(f"\nRule (keeps the winner in >= {summary['need']} of {n} seeds, fewest epochs among "
          f"those that do): {summary['fewest_epochs_that_keep'] or 'no arm qualifies'}; the "
          f"default ({DEFAULT}) {'meets' if summary['default_meets_rule'] else 'does not meet'}"
          " it.", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipped", action="store_true",
                        help="search=fashion's own budget and space (n_trials, max_epochs, "
                        "train_subset, data.val_fraction, full width and depth)")
    parser.add_argument("--trials", type=int, default=None, help="default 10")
    parser.add_argument("--epochs", type=int, default=None, help="default 5")
    parser.add_argument("--subset", type=int, default=None, help="training-file images used "
                        "(default 2000)")
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="default 0.3; --shipped: the data's own (0.1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--seed", type=int, default=None, help="one seed (as --seeds N)")
    parser.add_argument("--tolerance", type=float, default=0.2, help="points")
    parser.add_argument("--root", type=Path, default=None, help="data.root (default: auto)")
    parser.add_argument("--max-width", type=float, default=0.5)
    parser.add_argument("--max-depth", type=int, default=2)
    parser.add_argument("--extra", nargs="*", default=[],
                        help="overrides for every search (trainer=gpu, threads=4, ...)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds searched at once")
    parser.add_argument("--check", default=None, help="also run this arm as a real search "
                        "(first seed)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="run the searches in this folder and keep them; rerunning with "
                        "it continues unfinished searches (default: a temporary folder)")
    parser.add_argument("--journal", type=Path, default=None,
                        help="replay this unpruned study's journal instead of running one "
                        "(its finished trials, in order)")
    args = parser.parse_args()
    if args.seed is not None:
        args.seeds = [args.seed]
    budget = shipped_budget() if args.shipped else {"trials": 10, "epochs": 5, "subset": 2000}
    for key, value in budget.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.val_fraction is None and not args.shipped:
        args.val_fraction = 0.3
    return args


def main() -> None:
    args = parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a replay creates many studies

    def common(seed: int) -> list[str]:
        return [f"search.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
                f"search.seed={seed}", "search.sampler=random", "search.n_workers=1",
                f"data.train_subset={args.subset}",
                *([f"data.val_fraction={args.val_fraction}"] if args.val_fraction else []),
                *([f"data.root={args.root}"] if args.root else []), *args.extra]

    out: dict[str, Any] = {"command": " ".join(sys.argv), "budget": {
        "trials": args.trials, "epochs": args.epochs, "subset": args.subset,
        "val_fraction": args.val_fraction, "shipped_space": args.shipped}, "seeds": {}}
    width = "full space" if args.shipped else f"width <= {args.max_width}, depth <= " \
        f"{args.max_depth}"
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        space = str(SPACE) if args.shipped else narrowed(Path(tmp), args.max_width,
                                                         args.max_depth)
        if args.journal:
            trials, warmup = load_study(args.journal)
            finished = [t for t in trials if t.state.is_finished()]
            arms = replay_arms(finished, args.epochs, warmup)
            out["seeds"]["journal"] = {"arms": arms, "warmup_epochs": warmup}
            print_table(arms, f"{args.journal}: warm-up {warmup} epoch(s)")
        else:
            def search(seed: int) -> float:
                root = Path(tmp) / f"seed{seed}" / "none"
                return run_search(root, [*common(seed), "search.pruner=none"], space=space)

            with ThreadPoolExecutor(max(1, args.jobs)) as pool:
                walls = dict(zip(args.seeds, pool.map(search, args.seeds), strict=True))
            for seed in args.seeds:
                trials, warmup = load_study(Path(tmp) / f"seed{seed}" / "none" / STUDY /
                                            "journal.log")
                arms = replay_arms([t for t in trials if t.state.is_finished()], args.epochs,
                                   warmup)
                out["seeds"][seed] = {"arms": arms, "wall_s": round(walls[seed], 1),
                                      "warmup_epochs": warmup}
                print_table(arms, f"seed {seed}: {args.trials} trials x {args.epochs} epochs, "
                            f"random sampler, subset {args.subset} (val fraction "
                            f"{args.val_fraction or 'the data default'}), {width}; warm-up "
                            f"{warmup} epoch(s); unpruned search {walls[seed]:.0f} s")
            if len(args.seeds) > 1:
                out["summary"] = summarize({s: out["seeds"][s]["arms"] for s in args.seeds},
                                           args.tolerance)
                print_summary(out["summary"], args.tolerance)
        if args.check:
            seed = args.seeds[0]
            spec = ARMS[args.check]
            flow = yaml.safe_dump(spec, default_flow_style=True).strip()
            real = Path(tmp) / f"seed{seed}" / "check"
            # `~` then `+`: a dict override would merge into the space's own pruner options
            run_search(real, [*common(seed), "~search.pruner", f"+search.pruner={flow}"],
                       space=space)
            got = {t.number: verdict(t) for t in load_study(real / STUDY / "journal.log")[0]
                   if verdict(t) in ("COMPLETE", "PRUNED")}
            key = "journal" if args.journal else seed
            agrees = got == out["seeds"][key]["arms"][args.check]["verdicts"]
            out["check"] = {"arm": args.check, "real": got, "agrees": agrees}
            print(f"\nreal search with {args.check}: verdicts agree with the replay: "
                  f"{agrees} (real {got})")
    if args.json:
        for entry in out["seeds"].values():
            for r in entry["arms"].values():
                r["verdicts"] = {str(k): v for k, v in r["verdicts"].items()}
        args.json.write_text(json.dumps({**out, "seeds": {str(k): v for k, v in
                                                          out["seeds"].items()}}, indent=1))


if __name__ == "__main__":
    main()
