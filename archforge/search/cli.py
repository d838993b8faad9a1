"""`archforge search [overrides]` and `archforge report [overrides]`."""

from __future__ import annotations

import time
from collections.abc import Sequence

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archforge.errors import ConfigError
from archforge.search.prepare import prepare, quiet
from archforge.search.report import trials_table, write_report
from archforge.search.study import counted, open_storage, reap_orphans, requeue_failed
from archforge.search.winners import export, retrain_command
from archforge.search.workers import run_loop, run_workers, threads_per_worker


def _status(study: optuna.Study) -> tuple[int, str]:
    trials = study.get_trials(deepcopy=False)
    n = len(counted(trials))
    by = {s: sum(t.state == s for t in trials) for s in TrialState}
    text = (f"complete {by[TrialState.COMPLETE]} pruned {by[TrialState.PRUNED]} "
            f"failed {by[TrialState.FAIL]} running {by[TrialState.RUNNING]}")
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done and len(study.directions) == 1:
        text += f" | best {study.best_value:.4f}"
    return n, text


def search(args: list[str]) -> int:
    quiet()
    prep = prepare(args)
    s = prep.settings
    console = Console(stderr=True)
    study = prep.study(0)
    reaped = reap_orphans(study, s.heartbeat_grace)
    requeue_failed(study, s.max_retries)
    before, _ = _status(study)
    console.print(
        f"[bold]archforge search[/] study [cyan]{s.study_name}[/] in {s.storage_url}: "
        f"{len(prep.space.params)} parameters, {before}/{s.n_trials} trials done"
        + (f", {len(reaped)} orphaned trial(s) marked failed and re-queued" if reaped else "")
        + f", {s.n_workers} worker(s) x {threads_per_worker(s.n_workers, s.threads)} threads"
    )
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    t0 = time.perf_counter()
    with Progress(*columns, console=console, disable=not s.progress) as bar:
        task = bar.add_task("trials", total=s.n_trials, completed=before, info="")

        def update(st: optuna.Study) -> None:
            n, info = _status(st)
            bar.update(task, completed=min(n, s.n_trials), info=info)

        if s.n_workers == 1:
            import torch

            if s.threads:
                torch.set_num_threads(s.threads)
            run_loop(prep, study, 0, on_trial=update)
        else:
            failed = run_workers(args, prep, poll=update if s.progress else None)
            if failed:
                console.print(f"[red]{failed} worker process(es) exited with an error[/]")
        update(study)
    elapsed = time.perf_counter() - t0
    console.print(trials_table(study, s, k=5))
    files = export(study, s, prep.base_overrides)
    after, info = _status(study)
    console.print(f"{after - before} trial(s) in {elapsed:.0f} s; {info}")
    for f in files:
        console.print(f"[green]{f}[/]  ({retrain_command(f)})")
    if not files:
        console.print("no completed trial yet: nothing exported")
    return 0


def report(args: list[str]) -> int:
    quiet()
    prep = prepare(args)
    s = prep.settings
    try:
        study = optuna.load_study(study_name=s.study_name, storage=open_storage(s.storage_url))
    except KeyError as exc:
        raise ConfigError("search.study_name", f"no study {s.study_name!r} in "
                          f"{s.storage_url}; run archforge search first") from exc
    console = Console()
    out = s.study_dir / "report"
    files, skipped = write_report(study, out, [o.metric for o in s.objectives])
    console.print(trials_table(study, s, k=10))
    console.print(f"plots: {out} ({len(files)} files)")
    for name, why in skipped.items():
        console.print(f"  skipped {name}: {why}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # python -m archforge.search.cli
    import sys

    return search(list(sys.argv[1:] if argv is None else argv))
