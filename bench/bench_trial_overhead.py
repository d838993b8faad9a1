"""Where the time of a small search trial goes (not a test).

Runs `archforge search` in this process on the digits data (short trials: 2 epochs by
default) with every stage of a trial timed: the sampler and storage (ask/tell, user
attributes, the pruning callback's reports), composing the trial's config, the meta-device
checks, the data module, building the network, Lightning's Trainer construction, the
sanity-check validation, loading batches, the training and validation steps themselves,
checkpoint writes, and the rest of `fit` (setup, epoch ends, logging, teardown). The "work"
of a trial is loading its batches and its training and validation steps; everything else
is its fixed overhead (target:
<= 0.3 s). Process start (imports) is paid once per search (or per worker process) and is
timed separately.

    python bench/bench_trial_overhead.py                     # resnet_cifar, 4 trials x 2 epochs
    python bench/bench_trial_overhead.py --batches 3         # 3 train / 2 val batches an epoch
    python bench/bench_trial_overhead.py -- search.checkpoints=true   # extra overrides

The objective composes a trial's config from the base composed once per process
(`search.space.trial_config`), parses and traces the run once, and trains it without
Lightning's sanity-check validation; the "before" rows in bench/RESULTS.md were measured
when each trial composed through Hydra, checked its model twice and ran the sanity check.
Every search uses `search.pruner=none` (each feasible trial trains all its epochs) in a
fresh temporary root. Prints a Markdown table: milliseconds per trial for each stage.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
spent: dict[str, float] = defaultdict(float)  # seconds charged to each stage (net)
gross: dict[str, float] = defaultdict(float)  # seconds inside each stage (nested included)
calls: dict[str, int] = defaultdict(int)
LOADING = "WORK: batch loading"
BACKGROUND = "in a background thread: "


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `fn` so its time is charged to `label` (minus nested timed stages)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            # the heartbeat thread's storage writes overlap the trial: shown, not summed
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[f"{BACKGROUND}{label}"] += time.perf_counter() - start
                calls[f"{BACKGROUND}{label}"] += 1
        start = time.perf_counter()
        nested_before = spent["__nested__"]
        try:
            return fn(*args, **kwargs)
        finally:
            took = time.perf_counter() - start
            inner = spent["__nested__"] - nested_before
            spent[label] += took - inner
            gross[label] += took
            calls[label] += 1
            spent["__nested__"] = nested_before + took

    return wrapper


def patch(owner: Any, name: str, label: str) -> None:
    setattr(owner, name, timed(label, getattr(owner, name)))


class StepTimer:
    """A Lightning callback charging batch and sanity-check time to their own stages."""

    def __init__(self) -> None:
        import lightning as L

        timer = self

        class _Cb(L.Callback):
            def on_sanity_check_start(self, trainer: Any, module: Any) -> None:
                timer.mark = time.perf_counter()
                timer.loading = spent[LOADING]

            def on_sanity_check_end(self, trainer: Any, module: Any) -> None:
                # batches loaded for the sanity check belong to it, not to the work
                moved = spent[LOADING] - timer.loading
                spent[LOADING] -= moved
                spent["__nested__"] -= moved
                timer.charge("sanity-check validation", timer.mark)

            def on_train_batch_start(self, *args: Any) -> None:
                timer.mark = time.perf_counter()

            def on_train_batch_end(self, *args: Any) -> None:
                timer.charge("WORK: training steps", timer.mark)

            def on_validation_batch_start(self, trainer: Any, *args: Any) -> None:
                timer.mark = time.perf_counter()

            def on_validation_batch_end(self, trainer: Any, *args: Any) -> None:
                if not trainer.sanity_checking:
                    timer.charge("WORK: validation steps", timer.mark)

        self.callback = _Cb()
        self.mark = 0.0
        self.loading = 0.0

    def charge(self, label: str, since: float) -> None:
        took = time.perf_counter() - since
        spent[label] += took
        spent["__nested__"] += took  # so `fit` is not charged for it again
        calls[label] += 1


def instrument() -> StepTimer:
    import lightning as L
    import optuna

    import archforge.search.runtime.workers as workers
    import archforge.search.trial.objective as objective
    import archforge.training.fit as fit
    from archforge.data.tensors import TensorImageDataset
    from archforge.training.checkpoint_io import AtomicCheckpointIO

    patch(objective, "trial_config", "compose trial config")
    patch(objective, "parse_run", "parse run + meta check (once a trial)")
    patch(fit, "make_datamodule", "data module")
    # batches are fetched (and augmented) before Lightning's on_train_batch_start: work too
    patch(TensorImageDataset, "__getitems__", LOADING)
    patch(fit, "build_model", "build network")
    patch(fit, "make_loggers", "loggers")
    patch(fit, "_write_rank_info", "rank info")
    patch(L.Trainer, "__init__", "Trainer()")
    patch(L.Trainer, "fit", "fit: rest (setup, epoch ends, logging, teardown)")
    patch(AtomicCheckpointIO, "save_checkpoint", "checkpoint writes")
    patch(optuna.Study, "ask", "ask (sampler)")
    patch(workers, "tell", "tell")
    patch(workers, "reap_orphans", "between trials (reap, requeue, count)")
    patch(workers, "requeue_failed", "between trials (reap, requeue, count)")
    patch(workers, "should_stop", "between trials (reap, requeue, count)")
    for name in ("set_trial_user_attr", "set_trial_intermediate_value", "get_trial",
                 "get_all_trials", "set_trial_param"):
        patch(optuna.storages.JournalStorage, name, "storage reads/writes")
    patch(workers, "objective", "objective: rest")
    patch(workers, "run_loop", "RUN_LOOP")
    steps = StepTimer()
    original = fit.train

    def train_with_timer(cfg: Any, **kwargs: Any) -> Any:
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), steps.callback]
        return original(cfg, **kwargs)

    fit.train = timed("train: rest", train_with_timer)
    return steps


def process_start() -> float:
    """Seconds to start Python and import what `archforge search` imports."""
    code = "import archforge.cli.search, archforge.training.fit, archforge.data"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def feasible_space(name: str, folder: Path) -> Path:
    """A copy of the search space without the identity shortcut, whose candidates that
    change shape are infeasible (cheap trials that would dilute the per-trial numbers)."""
    from archforge.config.compose import conf_dir

    source = Path(name) if name.endswith(".yaml") else conf_dir() / "search" / f"{name}.yaml"
    spec = yaml.safe_load(source.read_text())
    choices = spec["space"].get("model.shortcut")
    if isinstance(choices, list):
        spec["space"]["model.shortcut"] = [c for c in choices if c != "identity"]
    path = folder / "feasible.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--search", default="resnet_cifar")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batches", type=int, default=None,
                    help="limit each epoch to this many training batches (and 2 validation)")
    ap.add_argument("--as-configured", action="store_true",
                    help="keep the space's pruner and infeasible choices (for trials/hour)")
    ap.add_argument("extra", nargs="*", help="more overrides (after --)")
    args = ap.parse_args()

    start_s = process_start()
    instrument()
    from archforge.cli.search import search
    from archforge.search.runtime.study import open_storage

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"search={args.search}", f"search.root={tmp}", "search.progress=false",
                     f"search.n_trials={args.trials}", f"trainer.max_epochs={args.epochs}",
                     "search.study_name=overhead", *args.extra]
        if args.batches:
            overrides += [f"trainer.limit_train_batches={args.batches}",
                          "trainer.limit_val_batches=2"]
        if not args.as_configured:
            overrides[0] = f"search={feasible_space(args.search, Path(tmp))}"
            overrides.append("search.pruner=none")  # every trial trains all its epochs
        # one-time costs (first optimizer, first fit, lazy imports) are paid once per
        # process, not per trial: a warm-up search pays them before the measured one
        search([*overrides, "search.study_name=warmup", "search.n_trials=1"])
        spent.clear()
        gross.clear()
        calls.clear()
        t0 = time.perf_counter()
        search(overrides)
        wall = time.perf_counter() - t0
        import optuna

        study = optuna.load_study(study_name="overhead",
                                  storage=open_storage(f"{tmp}/overhead/journal.log"))
        trials = study.get_trials(deepcopy=False)
        states: dict[str, int] = defaultdict(int)
        for t in trials:
            states[t.state.name.lower()] += 1
        epochs = sum(int(t.user_attrs.get("epochs", 0)) for t in trials)
    spent.pop("__nested__", None)
    in_loop = gross.pop("RUN_LOOP")
    spent.pop("RUN_LOOP")
    n = len(trials)
    work = sum(v for k, v in spent.items() if k.startswith("WORK"))
    print(f"## {n} trials of search={args.search}, {args.epochs} epochs max"
          f"{f', {args.batches} batches an epoch' if args.batches else ''}"
          " "
          f"({', '.join(f'{c} {s}' for s, c in states.items())}; {epochs} epochs trained)\n")
    print("| stage | ms per trial | calls per trial |")
    print("|---|---:|---:|")
    for label, secs in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {1000 * secs / n:.1f} | {calls[label] / n:.1f} |")
    rest = in_loop - sum(v for k, v in spent.items() if not k.startswith(BACKGROUND))
    print(f"| trial loop: rest (heartbeat thread start/stop, progress) | {1000 * rest / n:.1f} | |")
    print(f"\nper trial: {in_loop / n:.3f} s in the trial loop = {work / n:.3f} s training and "
          f"validation steps + {(in_loop - work) / n:.3f} s fixed overhead (target <= 0.30)")
    print(f"per search: {wall - in_loop:.2f} s outside the trial loop (prepare, table, export); "
          f"process start (python + imports): {start_s:.2f} s")
    print(f"trials per hour (this run, in process): {3600 * n / wall:.0f}")

if __name__ == "__main__":
    main()
