"""Search quality on the NAS-Bench-201 table: regret against evaluations, per sampler.

Each run is a search over `search=nb201`'s space (six categorical edges) with archforge's
sampler of that name (`search.sampler`, seeded like a worker), each evaluation answered like
`search.evaluator=table` does: one stored training seed's validation accuracy, drawn from
the run's seed and the trial number. The search returns the candidate archforge's winner
rule picks (`search.winner`, both rules: repeats.single_winner on the run's study); its
regret is the table's best mean validation accuracy minus that candidate's true mean
(percentage points). Printed per data set, sampler and budget: mean and median regret
and the share of runs whose returned candidate is the optimum.

"+ prescreen" runs are warm-started like `search.prescreen` (strategy/prescreen.py): 100
random cells scored by synflow, the best 10 enqueued first (--prescreen-samples, -top).
Their synflow values come from bench/bench_proxies.py's file
(bench/figures/nb201_proxies.json: 1,000 random cells, the CIFAR-10 network); the 100 are
drawn from those cells, and the CIFAR-10 network's synflow is used for every data set.

    python bench/bench_search_quality.py --seeds 30            # writes bench/figures/...png
    python bench/bench_search_quality.py --seeds 5 --datasets cifar10 --samplers tpe
    python bench/bench_search_quality.py --datasets cifar10 --evals 100 \
        --samplers '{"name": "tpe", "n_startup_trials": 5}'     # any search.sampler spec

`--samplers botorch_discrete` is `gp_discrete` with BoTorch's model and acquisition in place
of archforge's own (bench/botorch_arm.py; the `bench` extra installs BoTorch).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from archforge.search.repeats import single_winner
from archforge.search.runtime.prepare import prepare
from archforge.search.space.search_space import SearchSpace
from archforge.search.strategy.nb201_table import NB201Table, load_table
from archforge.search.strategy.prescreen import enqueue_best
from archforge.search.strategy.samplers import make_sampler

BUDGETS = (10, 30, 100, 300)
HERE = Path(__file__).resolve().parent
PROXIES = HERE / "figures" / "nb201_proxies.json"
STORE = HERE / "figures" / "nb201_search_quality.json"
FLOOR = 0.005  # a mean regret of 0 on the log scale


@dataclass(frozen=True)
class Arm:
    sampler: str
    prescreen: bool
    samples: int = 100

    @property
    def label(self) -> str:
        return self.sampler + (f" + prescreen {self.samples}" if self.prescreen else "")


RULES = ("best_run", "mean")  # search.winner


def run(space: SearchSpace, table: NB201Table, arm: Arm, seed: int, evals: int,
        pool: dict[str, float], samples: int = 100,
        top: int = 10) -> dict[str, tuple[list[float], list[bool]]]:
    """Per winner rule (`search.winner`): the regret of the candidate it returns after each
    evaluation, and whether that is the optimum. A candidate proposed again is read again
    (another stored seed, as a repeat trains with the next seed)."""
    spec = json.loads(arm.sampler) if arm.sampler.startswith("{") else arm.sampler
    if spec == "botorch_discrete":  # bench-only: BoTorch in place of gp_discrete's own GP
        from botorch_arm import BoTorchDiscreteSampler  # bench/ (the script's folder)

        sampler: optuna.samplers.BaseSampler = BoTorchDiscreteSampler(seed=seed)
    else:
        sampler = make_sampler(spec, space, seed, False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    names = [p.path for p in space.params]
    if arm.prescreen:
        keys = random.Random(f"prescreen:{seed}").sample(sorted(pool), samples)
        cells = [dict(zip(names, table.ops(k), strict=True)) for k in keys]
        enqueue_best(study, cells, [pool[k] for k in keys], top)
    out: dict[str, tuple[list[float], list[bool]]] = {r: ([], []) for r in RULES}
    for number in range(evals):
        trial = study.ask()
        chosen, _ = space.sample(trial)
        key = table.key([chosen[n] for n in names])
        _, acc = table.draw(key, seed, number)
        study.tell(trial, acc / 100.0)
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        for rule in RULES:  # archforge's own rule (repeats.single_winner), as a search exports
            winner = single_winner(study, done, rule)
            assert winner is not None
            won = table.key([winner.params[n] for n in names])
            out[rule][0].append(table.regret(won))
            out[rule][1].append(won == table.best_key)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--evals", type=int, default=max(BUDGETS))
    ap.add_argument("--datasets", nargs="*", default=["cifar10", "cifar100", "imagenet"])
    ap.add_argument("--samplers", nargs="*", default=["random", "tpe", "evolution"])
    ap.add_argument("--no-prescreen", action="store_true")
    ap.add_argument("--only-prescreen", action="store_true")
    ap.add_argument("--prescreen-samples", type=int, default=100,
                    help="cells scored (at most the 1,000 of bench_proxies' file)")
    ap.add_argument("--prescreen-top", type=int, default=10)
    ap.add_argument("--plot", default=str(HERE / "figures" / "nb201_search_quality.png"))
    ap.add_argument("--store", default=str(STORE),
                    help="curves of every arm run so far (this run's arms replace theirs); "
                         "the plot shows them all")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = prepare(["search=nb201", "search.evaluator=table", "search.prescreen.samples=0"]
                    ).space
    pool = ({k: v["synflow"] for k, v in json.loads(PROXIES.read_text())["cells"].items()}
            if not args.no_prescreen else {})
    screens = ((False,) if args.no_prescreen else (True,) if args.only_prescreen
               else (False, True))
    arms = [Arm(s, p, args.prescreen_samples) for s in args.samplers for p in screens]
    budgets = [b for b in BUDGETS if b <= args.evals]
    store_path = Path(args.store)
    ran: dict[str, dict[str, object]] = {}  # this run's arms
    begun = time.perf_counter()
    print(f"{args.seeds} seeds per arm, {args.evals} evaluations per run; regret in "
          "percentage points of mean validation accuracy; 'optimum': share of runs whose "
          "returned candidate is the table's best; winner: search.winner's rule")
    for dataset in args.datasets:
        table = load_table(dataset)
        print(f"\n### {table.data.title} (best mean validation accuracy "
              f"{table.best_mean:.2f}, cell {table.best_key})\n")
        print("| sampler | winner | " + " | ".join(f"{b} evals: mean / median / optimum"
                                                   for b in budgets) + " | s per run |")
        print("|---" * (len(budgets) + 3) + "|")
        for arm in arms:
            started = time.perf_counter()
            results = [run(space, table, arm, seed, args.evals, pool,
                           args.prescreen_samples, args.prescreen_top)
                       for seed in range(args.seeds)]
            per_run = (time.perf_counter() - started) / args.seeds
            for rule in RULES:
                cells = []
                for b in budgets:
                    at = [r[rule][0][b - 1] for r in results]
                    found = sum(r[rule][1][b - 1] for r in results) / len(results)
                    cells.append(f"{statistics.fmean(at):.3f} / {statistics.median(at):.3f} / "
                                 f"{found:.0%}")
                print(f"| {arm.label} | {rule} | " + " | ".join(cells) + f" | {per_run:.2f} |",
                      flush=True)
                ran[f"{dataset}|{arm.label}|{rule}"] = {
                    "seeds": args.seeds,
                    "curve": [round(statistics.fmean(r[rule][0][n] for r in results), 4)
                              for n in range(args.evals)]}
    store_path.parent.mkdir(parents=True, exist_ok=True)
    # read now, not at the start: another bench process may have stored arms meanwhile, and
    # only this run's arms are replaced
    store = (json.loads(store_path.read_text()) if store_path.is_file() else {}) | ran
    store_path.write_text(json.dumps(store, indent=0))
    plot(store, args.datasets, Path(args.plot))
    print(f"\nplot: {args.plot}; the whole bench took {time.perf_counter() - begun:.0f} s")


def plot(store: dict[str, dict[str, object]], datasets: Sequence[str], path: Path) -> None:
    """Mean regret against evaluations for every stored arm: one row per winner rule
    (search.winner), `mean` (archforge's default) first; the dotted line is 0.05 points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = ("mean", "best_run")
    fig, axes = plt.subplots(len(rules), len(datasets), figsize=(5 * len(datasets), 8),
                             squeeze=False)
    for row, rule in zip(axes, rules, strict=True):
        for ax, dataset in zip(row, datasets, strict=True):
            for name, entry in sorted(store.items()):
                ds, label, kept = name.split("|")
                if ds != dataset or kept != rule:
                    continue
                ys = list(entry["curve"])  # type: ignore[call-overload]
                ax.plot(range(1, len(ys) + 1), [max(y, FLOOR) for y in ys], label=label,
                        linestyle="--" if "prescreen" in label else "-")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom=FLOOR * 0.8)
            ax.axhline(0.05, color="grey", linewidth=0.8, linestyle=":")
            ax.set_xlabel("evaluations")
            ax.set_ylabel(f"mean regret (points; 0 drawn at {FLOOR})")
            ax.set_title(f"{load_table(dataset).data.title}, winner: {rule}")
            ax.grid(True, which="both", alpha=0.3)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)

if __name__ == "__main__":
    main()
