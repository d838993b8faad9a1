"""`hydra/sweeper=archforge`: archforge's search loop, with each trial run as a Hydra job.

`archforge train -m hydra/sweeper=archforge search=resnet_cifar` reads the same `search`
settings as `archforge search search=resnet_cifar` and runs the same loop
(`workers.run_loop`: reap orphans, re-queue retryable failures, ask, evaluate, tell) with
one difference, the evaluation: each round asks the study for `search.n_workers` trials,
checks them here (a candidate that breaks a constraint is recorded infeasible without a
job), turns each trial's parameters into overrides and launches the batch through the
configured Hydra launcher (basic, joblib, submitit_local, submitit_slurm). Every job
reports each epoch to the study's storage and stops when the pruner says so (sweep_job.py);
when the batch returns, the sweeper reads each job's metrics back from the storage and
records the trial complete, pruned or failed - a job that died without a result (killed,
out of memory) is failed and re-queued up to `search.max_retries` times.

Any other Hydra application (one whose task function is not archforge's `train`) gives
the search settings under `hydra.sweeper.search` and adds `sweep_job.PruningCallback` to its
Trainer; its trial parameters are any keys of its config, its objectives any metric it
logs, and nothing is checked before its jobs run.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from archforge.cli.sweep_job import JOB_DIR, JOB_METRICS, JOB_SETTINGS, JobAddress, job_settings
from archforge.config.search_settings import COST_METRICS, DIRECTIONS, Objective, parse_settings
from archforge.errors import ConfigError
from archforge.search.allow_list import trusted_targets
from archforge.search.runtime.prepare import Prepared, prepare, quiet
from archforge.search.runtime.signals import Interrupted, handling, stop
from archforge.search.runtime.study import is_journal_path, reap_orphans, requeue_failed
from archforge.search.runtime.workers import run_loop, threads_per_worker
from archforge.search.space.search_space import compile_space
from archforge.search.strategy import make_evaluator
from archforge.search.strategy.training import score, stored_attrs
from archforge.search.trial.objective import Context, check
from archforge.search.trial.outcome import Outcome, _first_line, failed
from archforge.search.trial.outcome import guard as _guard
from archforge.training.run_owner import check_sweep_dir, mark

# Launchers that run a batch's jobs at once on this machine (they share its cores).
PARALLEL_LOCAL = ("LocalLauncher", "JoblibLauncher")


@dataclass
class JobResult:
    """What `objective.score` reads of a finished job."""

    metrics: dict[str, float]
    run_dir: str


def is_archforge_train(task_function: TaskFunction) -> bool:
    from archforge.cli.train import train_task

    return inspect.unwrap(task_function) is train_task


class SweepRunner:
    def __init__(self, hydra_context: HydraContext, task_function: TaskFunction,
                 config: DictConfig, search: Any) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.search = search
        self.archforge_app = is_archforge_train(task_function)
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.job_idx = 0

    # ---- settings ---------------------------------------------------------------------

    def prepare(self, arguments: Sequence[str]) -> Prepared:
        """The search settings and space: archforge's `train` takes them from `search=`,
        any other application from `hydra.sweeper.search`."""
        if self.archforge_app:
            if self.search is not None:
                raise ConfigError("hydra.sweeper.search", "archforge train takes its search "
                                  "settings from search=<name> and search.* overrides")
            return prepare(arguments)
        return prepare_app(self.config, self.search, arguments)

    def job_threads(self, prep: Prepared) -> int | None:
        """Torch threads per job: the cores shared by the jobs a launcher runs at once on
        this machine; `search.threads` wins; None (the job's own default: archforge's
        `threads: null`) for jobs run one at a time (basic launcher) or elsewhere (SLURM)."""
        s = prep.settings
        target = str(OmegaConf.select(self.config, "hydra.launcher._target_", default=""))
        if target.endswith(PARALLEL_LOCAL):
            return threads_per_worker(s.n_workers, s.threads)
        return s.threads

    # ---- the sweep --------------------------------------------------------------------

    def sweep(self, arguments: list[str]) -> Any:
        quiet()
        refuse_sweep_overrides(arguments)
        prep = self.prepare(arguments)
        s = prep.settings
        for line in prep.notes:  # the search file's data keys dropped for the chosen data
            print(line, file=sys.stderr, flush=True)
        if is_journal_path(s.storage_url):  # jobs may run elsewhere (SLURM): absolute path
            s.storage = str(Path(s.storage_url.removeprefix("journal:")).expanduser()
                            .resolve())
        from archforge.cli.search import TrialLines

        # a user's own folder is refused before the study or any file is written
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).expanduser().resolve()
        check_sweep_dir(sweep_dir, OmegaConf.select(self.config, "overwrite") is True,
                        "hydra.sweep.dir")
        with handling():
            study = prep.study(0)
            study.set_user_attr(JOB_SETTINGS, job_settings(s, prep.max_epochs()))
            reap_orphans(study, s.heartbeat_grace, idle=True)
            requeue_failed(study, s.max_retries)
            mark(sweep_dir, "sweep")  # a resume of this sweep is let in (run_owner.py)
            OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
            threads = self.job_threads(prep)
            ctx = prep.context()
            lines = TrialLines(study)
            print(f"archforge sweeper: study {s.study_name} in {s.storage_url}, "
                  f"{len(prep.space.params)} parameters, {s.n_trials} trials, "
                  f"{s.n_workers} job(s) per batch x {threads or 'default'} threads",
                  file=sys.stderr, flush=True)
            run_loop(prep, study, batch=s.n_workers, on_trial=lines.print_new,
                     evaluate=lambda trials: self.evaluate(prep, ctx, trials, threads))
        self.finish(prep, study)
        if stop.requested:
            raise SystemExit(stop.exit_code)
        return study

    def evaluate(self, prep: Prepared, ctx: Context, trials: list[optuna.Trial],
                 threads: int | None) -> list[Outcome]:
        """Check each trial here, launch the valid ones as one batch of jobs, read back
        their outcomes."""
        outs: dict[int, Outcome] = {}
        jobs: list[tuple[optuna.Trial, dict[str, float]]] = []
        for trial in trials:
            checked = _guard(partial(self.check, ctx, trial), "build")
            if isinstance(checked, Outcome):
                outs[trial.number] = checked
            else:
                jobs.append((trial, checked))
        if jobs:
            storage = prep.settings.storage_url
            # a job's folder is named by its trial (<sweep dir>/<trial number>): a resumed
            # sweep in the same folder never reuses an earlier job's
            batch = [[*prep.base_overrides, *t.user_attrs["overrides"],
                      JobAddress(storage, t.study.study_name, t.number, threads).override(),
                      f"hydra.sweep.subdir={t.number}"]
                     for t, _ in jobs]
            returns, error = self.launch(batch)
            for (trial, costs), ret in zip(jobs, returns, strict=True):
                outs[trial.number] = _guard(partial(job_outcome, ctx, trial, costs, ret, error),
                                            "score")
        return [outs[t.number] for t in trials]

    def check(self, ctx: Context, trial: optuna.Trial) -> dict[str, float] | Outcome:
        """archforge's own runs: the objective's checks (compose, meta-device trace,
        constraints); another application's: only the sampling. The candidate's costs."""
        if self.archforge_app:
            checked = check(ctx, trial)
            return checked if isinstance(checked, Outcome) else checked.costs
        _, overrides = ctx.space.sample(trial)
        trial.set_user_attr("overrides", overrides)
        return {}

    def launch(self, batch: list[list[str]]) -> tuple[list[JobReturn | None], str | None]:
        """Run the jobs; a launcher that raises (a submitit job killed) loses no trial:
        every job's result is read back from the storage."""
        try:
            with stop.interruptible():
                returns: list[JobReturn | None] = list(
                    self.launcher.launch(batch, initial_job_idx=self.job_idx))
            return returns, None
        except KeyboardInterrupt:
            raise
        except (SystemExit, Exception) as exc:
            if stop.requested:  # Lightning's sys.exit(1) after a Ctrl-C in the job
                raise Interrupted(stop.signum or 2) from exc
            return [None] * len(batch), f"{type(exc).__name__}: {_first_line(exc)}"
        finally:
            self.job_idx += len(batch)

    def finish(self, prep: Prepared, study: optuna.Study) -> None:
        from rich.console import Console

        from archforge.cli.search import print_trials, print_winners
        from archforge.search.winners import export

        # the winners' files first, as `archforge search` writes them: printing can fail
        files = (export(study, prep.settings, prep.base_overrides) if self.archforge_app
                 else None)
        console = Console(soft_wrap=True)
        print_trials(console, study, prep.settings, k=5)
        print_winners(console, study, prep, files)


def job_outcome(ctx: Context, trial: optuna.Trial, costs: dict[str, float],
                ret: JobReturn | None, error: str | None) -> Outcome:
    """The trial's outcome from its job: the job's exception, or the metrics it stored
    (or returned), scored as the objective scores a run in this process."""
    if ret is not None and ret.status == JobStatus.FAILED:
        try:
            _ = ret.return_value  # raises the job's exception
        except Exception as exc:
            return failed(exc, "train")
    stored = stored_attrs(trial)
    metrics = stored.get(JOB_METRICS)
    if metrics is None and ret is not None and ret.status == JobStatus.COMPLETED:
        metrics = returned_metrics(ret.return_value, ctx)
    if metrics is None:
        why = error or "the job stored no metrics"
        return Outcome(TrialState.FAIL, reason=f"job ended without a result ({why}); "
                       "re-queued", attrs={"retry": True, "stage": "train"})
    return score(ctx.settings, trial, costs, JobResult(dict(metrics), str(stored.get(JOB_DIR, ""))))


def returned_metrics(value: Any, ctx: Context) -> dict[str, float] | None:
    """A task function's return value as metrics (an application without the callback):
    a number is the first objective, a mapping names its metrics."""
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return {ctx.settings.objectives[0].metric: float(value)}
    return None


def refuse_sweep_overrides(arguments: Sequence[str]) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for o in OverridesParser.create().parse_overrides(list(arguments)):
        if o.is_sweep_override():
            raise ConfigError(o.get_key_element(), f"{o.input_line!r} is a sweep; "
                              "hydra/sweeper=archforge samples the search space: put the "
                              "values in search.space")


def prepare_app(config: DictConfig, search: Any, arguments: Sequence[str]) -> Prepared:
    """Settings, space and base config of an application other than archforge's train."""
    if search is None:
        raise ConfigError("hydra.sweeper.search", "no search settings; give them under "
                          "hydra.sweeper.search (space, n_trials, objectives, ...)")
    raw = OmegaConf.to_container(search, resolve=True) if OmegaConf.is_config(search) \
        else dict(search)
    assert isinstance(raw, dict)
    objectives = raw.pop("objectives", None)
    settings = parse_settings({"search": raw})
    if objectives is not None:
        settings.objectives = app_objectives(objectives)
    settings.allowed_targets = trusted_targets(settings.allowed_targets, arguments)
    cfg = OmegaConf.masked_copy(config, [str(k) for k in config if k != "hydra"])
    try:
        base: Any = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # an interpolation only the job can resolve (${hydra:runtime...})
        base = OmegaConf.to_container(cfg, resolve=False)
    space = compile_space(settings.space, base)
    # its jobs are evaluated by the application itself; the evaluator only types the context
    return Prepared(settings, cfg, list(arguments), space, base, make_evaluator(settings))


def app_objectives(raw: Any, key: str = "hydra.sweeper.search.objectives") -> list[Objective]:
    """An application's objectives: any metric it logs; the direction defaults to minimize
    for a name containing `loss`, else maximize."""
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        spec = {"metric": item} if isinstance(item, str) else dict(item)
        metric, direction = spec.get("metric"), spec.get("direction")
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"{key}[{i}].metric", f"got {metric!r}; expected a logged metric")
        if metric in COST_METRICS:
            raise ConfigError(f"{key}[{i}].metric", f"{metric} is measured on archforge "
                              "networks only; log it from your module instead")
        if direction is None:
            direction = "minimize" if "loss" in metric else "maximize"
        if direction not in DIRECTIONS:
            raise ConfigError(f"{key}[{i}].direction", f"got {direction!r}; maximize or "
                              "minimize")
        out.append(Objective(metric, direction))
    if not out or len({o.metric for o in out}) != len(out):
        raise ConfigError(key, f"got {raw!r}; one or more distinct metrics")
    return out

