"""The supernet evaluator against training from scratch (issue 27).

For `--candidates` seeded random candidates of the search space (sampled and checked as a
search's trials are, constraints included):

- the supernet: trained once (its checkpoint in `<root>/<study_name>/supernet.pt`, reused
  when it exists, resumed when a run was stopped), then each candidate scored (slice,
  batch-norm recalibration, one validation pass) and timed;
- ground truth: each trained from scratch with the `training` evaluator's run at the
  space's budget (its `trainer.max_epochs`, no pruning), validation accuracy and seconds;
  kept in `--truth` (JSON, one entry per candidate's overrides) and reused by later runs.
  The figures over the candidates trained so far are saved after each one, so a stopped
  run leaves a partial result (`with_ground_truth` says over how many) and a rerun goes on;
- rank fidelity: Spearman and Kendall tau between supernet score and stand-alone accuracy,
  over all candidates and within each branch (block and shortcut type fixed);
- cost: the supernet's training seconds in from-scratch trials (the break-even number of
  trials), and seconds to score one candidate;
- the no-retrain gap: stand-alone accuracy minus the accuracy of the same network used
  straight from the supernet (BN recalibrated, not retrained), mean and range.

Full measurement (about 50 minutes on the 2-core CPU machine: 14 for the supernet, 34 for
the ground truth; figures in bench/RESULTS.md):

    python bench/bench_supernet.py --search fashion --candidates 24 \
        --truth bench/figures/supernet_truth_fashion.json --root runs/bench_supernet \
        --save bench/figures/supernet_fashion.json --plot bench/figures/supernet_fashion.png

Smoke run (tiny digits space, seconds): `python bench/bench_supernet.py --quick`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from scipy.stats import kendalltau, spearmanr

import archforge
from archforge.search.runtime.prepare import prepare, quiet
from archforge.search.supernet.evaluator import SupernetEvaluator
from archforge.search.trial.objective import check
from archforge.search.trial.outcome import Candidate

HERE = Path(__file__).resolve().parent
QUICK = HERE.parent / "tests" / "search" / "supernet_tiny.yaml"


def candidates(prep: Any, n: int, seed: int) -> list[tuple[dict[str, Any], Candidate]]:
    """`n` feasible random candidates, as a search's trials sample and check them."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed),
                                directions=prep.settings.directions)
    out: list[tuple[dict[str, Any], Candidate]] = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        trial = study.ask()
        checked = check(prep.context(), trial)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        if isinstance(checked, Candidate):
            out.append((dict(trial.params), checked))
    return out


def key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def train_alone(cand: Candidate, folder: Path) -> dict[str, float]:
    """The candidate trained from scratch at the space's budget: validation accuracy and
    seconds."""
    from archforge.training.fit import train

    started = time.perf_counter()
    result = train(cand.run, run_dir=folder, progress=False, checkpoints=False,
                   sanity_check=False, loggers=False)
    return {"val_acc": float(result.metrics["val/acc"]),
            "seconds": time.perf_counter() - started}


def figures(name: str, pool: list[tuple[dict[str, Any], Candidate]], scores: list[float],
            score_s: list[float], truth: dict[str, dict[str, float]], engine: Any,
            ready_s: float) -> dict[str, Any]:
    """Rank fidelity, cost and the no-retrain gap over the candidates with a ground truth."""
    known = [(p, s) for (p, _), s in zip(pool, scores, strict=True) if key(p) in truth]
    alone = [truth[key(p)]["val_acc"] for p, _ in known]
    sliced = [s for _, s in known]
    result: dict[str, Any] = {
        "search": name, "candidates": len(pool), "with_ground_truth": len(known),
        "supernet_train_s": engine.train_seconds, "supernet_ready_s": ready_s,
        "score_s_median": statistics.median(score_s),
    }
    if len(known) >= 3:
        trial_s = statistics.mean(truth[key(p)]["seconds"] for p, _ in known)
        gaps = [a - s for a, s in zip(alone, sliced, strict=True)]
        result.update({
            "spearman": float(spearmanr(sliced, alone).statistic),
            "kendall_tau": float(kendalltau(sliced, alone).statistic),
            "trial_s_mean": trial_s, "break_even_trials": engine.train_seconds / trial_s,
            "no_retrain_gap_mean": statistics.mean(gaps), "no_retrain_gap_min": min(gaps),
            "no_retrain_gap_max": max(gaps),
        })
        # Within one branch (the non-nesting choices fixed): does the supernet order widths
        # and depths, not only block types? Branches with at least 4 candidates.
        groups: dict[int, list[tuple[float, float]]] = {}
        for (p, s), a in zip(known, alone, strict=True):
            groups.setdefault(engine.supernet.index(p), []).append((s, a))
        within = {engine.supernet.branches[i].branch.label: (
            len(g), float(spearmanr([x for x, _ in g], [y for _, y in g]).statistic))
            for i, g in sorted(groups.items()) if len(g) >= 4}
        result["spearman_within_branch"] = {k: {"candidates": n, "spearman": r}
                                            for k, (n, r) in within.items()}
    result["pairs"] = [{"point": p, "supernet": s, "alone": a}
                       for (p, s), a in zip(known, alone, strict=True)]
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Supernet score against stand-alone validation accuracy, one point per candidate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = result["pairs"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.scatter([q["supernet"] for q in pairs], [q["alone"] for q in pairs], s=18)
    ax.set_xlabel("supernet score (val/acc, sliced, BN recalibrated)")
    ax.set_ylabel("trained alone (val/acc)")
    title = f"{result['search']}: {result['with_ground_truth']} candidates"
    if "spearman" in result:
        title += f", Spearman {result['spearman']:.2f}, Kendall {result['kendall_tau']:.2f}"
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def show(result: dict[str, Any]) -> None:
    for k, v in result.items():
        if k != "pairs":
            print(f"{k:>22}: {v:.4f}" if isinstance(v, float) else f"{k:>22}: {v}", flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", default="fashion", help="conf/search name or a YAML path")
    ap.add_argument("--candidates", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--truth", type=Path, default=None,
                    help="ground-truth JSON (default bench/figures/supernet_truth_<search>.json)")
    ap.add_argument("--root", type=Path, default=Path("runs/bench_supernet"))
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="PNG: score against accuracy")
    ap.add_argument("--quick", action="store_true",
                    help="tiny digits space, 3 candidates, a temporary folder (a smoke run)")
    ap.add_argument("overrides", nargs="*", help="more overrides, e.g. search.supernet.epochs=6")
    args = ap.parse_args(argv)
    archforge.load_plugins()
    quiet()
    tmp = None
    if args.quick:
        tmp = tempfile.TemporaryDirectory()
        args.search, args.candidates, args.root = str(QUICK), 3, Path(tmp.name)
        args.truth = Path(tmp.name) / "truth.json"
    name = Path(args.search).stem
    truth_path = args.truth or HERE / "figures" / f"supernet_truth_{name}.json"
    prep = prepare([f"search={args.search}", "search.evaluator=supernet",
                    f"search.root={args.root}", "search.progress=false", *args.overrides])
    evaluator = prep.evaluator
    assert isinstance(evaluator, SupernetEvaluator)
    pool = candidates(prep, args.candidates, args.seed)

    # The supernet first, then every candidate scored (seconds), then the slow ground truth
    # one candidate at a time: the figures over the candidates trained so far are printed
    # and saved after each, so a long run that is stopped still leaves its result.
    started = time.perf_counter()
    engine = evaluator.make_engine().ready(
        after_epoch=lambda epoch: print(f"supernet epoch {epoch} done "
                                        f"({time.perf_counter() - started:.0f} s)", flush=True))
    ready_s = time.perf_counter() - started
    scores, score_s = [], []
    for point, cand in pool:
        t0 = time.perf_counter()
        scores.append(engine.score(cand.run.model, point).metrics["val/acc"])
        score_s.append(time.perf_counter() - t0)
    print(f"supernet ready in {ready_s:.0f} s; {len(pool)} candidates scored, median "
          f"{statistics.median(score_s):.2f} s each", flush=True)

    truth: dict[str, dict[str, float]] = (json.loads(truth_path.read_text())
                                          if truth_path.exists() else {})
    result = figures(name, pool, scores, score_s, truth, engine, ready_s)
    for i, (point, cand) in enumerate(pool):
        if key(point) in truth:
            continue
        truth[key(point)] = train_alone(cand, args.root / "truth" / f"{i:03d}")
        write_json(truth_path, truth)
        print(f"truth {i + 1}/{len(pool)}: val/acc {truth[key(point)]['val_acc']:.4f} in "
              f"{truth[key(point)]['seconds']:.0f} s (supernet score {scores[i]:.4f})",
              flush=True)
        result = figures(name, pool, scores, score_s, truth, engine, ready_s)
        if args.save:
            write_json(args.save, result)
    show(result)
    if args.save:
        write_json(args.save, result)
    if args.plot:
        plot(result, args.plot)
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
