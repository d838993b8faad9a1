"""`archforge search [overrides]` and `archforge report [overrides]`.

Both are Hydra applications (archforge/cli/hydra_app.py): Hydra answers `--help`, `--cfg`
and `--info`, and runs the task below once per job with the job's overrides, from which the
search composes its base config and every trial (each worker process composes again from
the same overrides, so they share nothing but the study's storage).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archforge.cli.closed_output import surviving_closed_output
from archforge.cli.hydra_job import task_overrides
from archforge.config.compose import compose, schema_overrides
from archforge.config.follow_data import follow_data
from archforge.config.search_file import naming_the_file
from archforge.config.search_settings import SearchSettings
from archforge.errors import ConfigError
from archforge.search.mlflow_study import StudyRun
from archforge.search.repeats import single_winner
from archforge.search.report import no_completed_trial, trials_table, write_report
from archforge.search.runtime.prepare import Prepared, prepare, quiet, split_args
from archforge.search.runtime.signals import handling, signal_name, stop
from archforge.search.runtime.storage_errors import failure_line
from archforge.search.runtime.study import (
    counted,
    open_storage,
    reap_orphans,
    repairs,
    requeue_failed,
    verdict,
    verdict_counts,
)
from archforge.search.runtime.workers import Workers
from archforge.search.strategy.prescreen import prescreen, proxy_scorer
from archforge.search.winners import export, retrain_command


def _status(study: optuna.Study) -> tuple[int, str]:
    trials = study.get_trials(deepcopy=False)
    n = len(counted(trials))
    by = verdict_counts(trials)
    text = (f"complete {by['COMPLETE']} pruned {by['PRUNED']} infeasible {by['INFEASIBLE']} "
            f"failed {by['FAIL']} running {by['RUNNING']}")
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done and len(study.directions) == 1:
        text += f" | best {study.best_value:.4f}"
    return n, text


def before_hydra(parsed: argparse.Namespace) -> None:
    """Hydra composes (and checks) the command line before the task runs: the search's own
    overrides go in front of the user's, as every trial has them, so `search=fashion
    data.train_subset=6000` sets a key of the data set the search selects."""
    user = [i for i in parsed.overrides if not i.startswith(("hydra.", "hydra/"))]
    if parsed.multirun or not user:
        return
    at = parsed.overrides.index(user[0])
    split = split_args(user)  # the search file's overrides, checked before Hydra applies them
    with naming_the_file(split.file, split.source, split.user):
        compose(split.all, "config")  # Hydra's own error would not say the file set the key
    parsed.overrides[at:] = schema_overrides(split.all)


def search_task(cfg: DictConfig) -> None:
    """The Hydra task of `archforge search`: this job's overrides are the search's."""
    code = search(task_overrides())
    if code:
        raise SystemExit(code)


def report_task(cfg: DictConfig) -> None:
    """The Hydra task of `archforge report`."""
    report(task_overrides())


def search(args: list[str]) -> int:
    """Run (or resume) a search; 0 when done, 128+signum when stopped by SIGINT/SIGTERM,
    1 when a worker process died."""
    quiet()
    with handling(), surviving_closed_output():
        try:
            return _search(args)
        except Exception as exc:  # a database outage, a full disk: one line, no traceback
            line = failure_line(exc, "archforge search")
            if line is None:
                raise
            print(line, file=sys.stderr)
            return 1


def _search(args: list[str]) -> int:
    prep = prepare(args)
    s = prep.settings
    console = Console(stderr=True, soft_wrap=True)  # a log line stays one line in a file
    # what the space dropped for the data named, and what every trial reads from it, once
    for line in [*prep.notes, *follow_data(prep.base)[1]]:
        console.print(line, markup=False, highlight=False)
    study = prep.study(0)
    repaired = repairs.pop(s.storage_url, None)
    if repaired is not None:
        console.print(f"[yellow]journal {s.storage_url}: a torn write at its end "
                      f"({repaired.dropped_bytes} bytes) was cut off; {repaired.kept_records} "
                      f"complete records kept; the original is in {repaired.backup}[/]")
    reaped = reap_orphans(study, s.heartbeat_grace, idle=True)
    requeue_failed(study, s.max_retries)
    before, _ = _status(study)
    if s.prescreen.samples and not study.get_trials(deepcopy=False):
        _prescreen(prep, study, console)
    workers = Workers(prep, args)
    console.print(
        f"[bold]archforge search[/] study [cyan]{s.study_name}[/] in {s.storage_url}: "
        f"{len(prep.space.params)} parameters, {before}/{s.n_trials} trials done"
        + (f", {len(reaped)} orphaned trial(s) marked failed and re-queued" if reaped else "")
        + f", {s.n_workers} worker(s) x {workers.threads} threads"
        + (f" (children {workers.method}ed)" if s.n_workers > 1 else "")
    )
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    # rich's bar draws nothing where stderr is not a terminal (CI logs, SLURM): print lines
    lines = TrialLines(study) if s.progress and not console.is_terminal else None
    t0 = time.perf_counter()
    # the workers start first: before the progress bar's thread, children can be forked
    with workers, Progress(
            *columns, console=console, disable=not s.progress or lines is not None) as bar:
        task = bar.add_task("trials", total=s.n_trials, completed=before, info="")
        lock = threading.Lock()
        tracked = StudyRun.start(prep, study)  # logger=mlflow; after the children forked

        def update(st: optuna.Study) -> None:
            with lock:  # called from the loop and from the progress thread
                n, info = _status(st)
                bar.update(task, completed=min(n, s.n_trials), info=info)
                if lines is not None:
                    lines.print_new(st)
                if tracked is not None:
                    tracked.log_new(st)

        failures = workers.run(study, on_trial=update)
        update(study)
    elapsed = time.perf_counter() - t0
    # the winners' files first: printing can fail (a closed pipe), writing them must not wait
    # the supernet evaluator's second stage trains its best candidates alone here
    final = study if stop.requested or failures else prep.evaluator.finish(study)
    files = export(final, s, prep.base_overrides)
    if tracked is not None:
        tracked.finish(study, files, stopped=stop.requested)
    # the result on stdout (progress and log lines above went to stderr)
    result = Console(soft_wrap=True)
    print_trials(result, study, s, k=5)
    after, info = _status(study)
    result.print(f"{after - before} trial(s) in {elapsed:.0f} s; {info}")
    print_winners(result, final, prep, files)
    for line in failures:
        console.print(f"[red]{line}[/]; its running trial is re-queued on resume")
    if stop.requested:
        console.print(f"[yellow]stopped by {signal_name(stop.signum or 0)}[/]: running trials "
                      "were marked failed and are re-queued when this command runs again")
        return stop.exit_code
    return 1 if failures else 0


def _prescreen(prep: Prepared, study: optuna.Study, console: Console) -> None:
    p = prep.settings.prescreen
    started = time.perf_counter()
    score = proxy_scorer(prep.base_overrides, prep.space, p.proxy, prep.base.get("data"),
                         p.batch)
    chosen = prescreen(study, prep.space, p.samples, p.top, score, prep.settings.seed)
    console.print(f"pre-screened {p.samples} random candidates by {p.proxy} in "
                  f"{time.perf_counter() - started:.0f} s: the best {len(chosen)} run first")


def print_winners(console: Console, study: optuna.Study, prep: Prepared,
                  files: list[Path] | None) -> None:
    """How to retrain the exported winners (`files`, archforge's own runs); for another
    application's sweep (`files=None`: nothing exported), the best trial's overrides."""
    if files is None:
        done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        best = (single_winner(study, done, prep.settings.winner)
                if len(study.directions) == 1 else None)
        if best is not None:
            console.print(f"best trial {best.number}: "
                          f"{' '.join(best.user_attrs.get('overrides', []))}")
        elif not done:
            console.print("no completed trial yet")
        return
    for f in files:
        console.print(f"[green]{f}[/]  ({retrain_command(f)})")
    if files:
        return
    if no_completed_trial(study) is not None:
        console.print("nothing to retrain: no trial completed, so no best_run.yaml was "
                      "written (the lines above say how the trials ended)")
    else:
        console.print(f"nothing exported (search.export={prep.settings.export})")


def print_trials(console: Console, study: optuna.Study, settings: SearchSettings,
                 k: int) -> None:
    """The top `k` completed trials as a table; without any, how the trials ended."""
    empty = no_completed_trial(study)
    if empty is None:
        console.print(trials_table(study, settings, k=k))
    else:
        console.print("\n".join(empty), markup=False, highlight=False)


class TrialLines:
    """One line per finished trial (number, state, value, params, seconds), for logs."""

    def __init__(self, study: optuna.Study) -> None:
        self.seen = {t.number for t in study.get_trials(deepcopy=False)
                     if t.state.is_finished()}

    def print_new(self, study: optuna.Study) -> None:
        for t in study.get_trials(deepcopy=False):
            if t.state.is_finished() and t.number not in self.seen:
                self.seen.add(t.number)
                print(trial_line(t), file=sys.stderr, flush=True)


def trial_line(t: FrozenTrial) -> str:
    value = "-" if t.values is None else " ".join(f"{v:.6g}" for v in t.values)
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in t.params.items())
    seconds = t.user_attrs.get("duration_s")
    if seconds is None and t.datetime_start and t.datetime_complete:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    text = (f"trial {t.number} {verdict(t)} value {value} | {params} | "
            f"{seconds if seconds is not None else float('nan'):.1f} s")
    reason = t.user_attrs.get("reason")
    return f"{text} | {reason}" if reason and t.state != TrialState.COMPLETE else text


def report(args: list[str]) -> int:
    quiet()
    prep = prepare(args)
    s = prep.settings
    storage = open_storage(s.storage_url, read_only=True)  # a report never writes to it
    try:
        study = optuna.load_study(study_name=s.study_name, storage=storage)
    except KeyError as exc:
        raise ConfigError("search.study_name", f"no study {s.study_name!r} in "
                          f"{s.storage_url}; run archforge search first") from exc
    console = Console(soft_wrap=True)
    out = s.study_dir / "report"
    files, skipped = write_report(study, out, [o.metric for o in s.objectives])
    print_trials(console, study, s, k=10)
    console.print(f"plots: {out} ({len(files)} files)")
    for name, why in skipped.items():
        console.print(f"  skipped {name}: {why}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # python -m archforge.cli.search
    return search(list(sys.argv[1:] if argv is None else argv))
