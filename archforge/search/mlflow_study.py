"""`archforge search ... logger=mlflow`: the study as one MLflow run, each trial a run
nested under it.

The parent run is the study's: created on the first search and kept in the study's user
attr `mlflow_parent_run` (its id and store), so a resumed search, or another process on the
same storage, logs under the same parent. Its parameters are the search's base config,
flattened; when the search ends it gets the winners' files (`best_run.yaml`, ...) as
artifacts, the best value as `best/<metric>` and the trial counts per state.

Each finished trial becomes a child run (tag `mlflow.parentRunId`, MLflow's nesting), named
`trial N`, with the trial's sampled parameters, its per-epoch values of the monitored metric
(Optuna's intermediate values, step = epoch), its objective values as `objective/<metric>`,
the tags `state` (complete, pruned, infeasible or failed), `reason` and `run_dir`, and the
trial's own start and end times.

Trials run in worker processes (runtime/workers.py), but only the search's own process
writes to MLflow: it reads every finished trial back from the study's shared storage (after
each of its own trials and once a second while children train, the same hook as the
progress display) and logs those no child run holds yet. One writer keeps SQLite's locks
and MLflow's client out of forked children, and needs no run id passed between processes;
the parent id every child run names is the one stored on the study.

optuna-integration's `MLflowCallback` was considered: it is an `optimize(callbacks=...)`
hook that logs a trial's params and final values from the process that ran it, with
Optuna's state names (no INFEASIBLE, no per-epoch values), so it does not fit this loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from archforge.config.search_settings import COST_METRICS
from archforge.errors import ConfigError
from archforge.search.runtime.prepare import Prepared
from archforge.search.runtime.study import verdict, verdict_counts
from archforge.training.mlflow_run import experiment_name, require_mlflow, tracking_target

PARENT_ATTR = "mlflow_parent_run"
TRIAL_TAG = "archforge.trial"
STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "INFEASIBLE": "infeasible",
          "FAIL": "failed"}
_BAD_NAME = re.compile(r"[^\w./\- :]")  # what MLflow refuses in a param or metric name


def wants_mlflow(base: Mapping[str, Any]) -> bool:
    logger = base.get("logger")
    kinds = [logger] if isinstance(logger, str) else list(logger or [])
    return "mlflow" in kinds


def trial_state(t: FrozenTrial) -> str:
    """complete, pruned, infeasible or failed (archforge's verdict, as a tag value)."""
    return STATES[verdict(t)]


def mlflow_name(name: str) -> str:
    """A parameter or metric name MLflow accepts (`model.stages.*.depth` ->
    `model.stages._.depth`)."""
    return _BAD_NAME.sub("_", name)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(`a/b/0`, "value") pairs of a nested mapping, as Lightning flattens hyperparameters."""
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}/{key}" if prefix else str(key))
    elif isinstance(value, list | tuple) and value and prefix:
        for i, inner in enumerate(value):
            yield from flatten(inner, f"{prefix}/{i}")
    elif prefix:
        yield mlflow_name(prefix), str(value)[:500]


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class StudyRun:
    """The study's parent run in MLflow and the child run of every finished trial."""

    def __init__(self, client: Any, parent: str, experiment: str, monitor: str,
                 objectives: list[str]) -> None:
        self.client = client
        self.parent = parent
        self.experiment = experiment
        self.monitor = monitor
        self.objectives = objectives
        self.logged = self._logged_trials()

    @classmethod
    def start(cls, prep: Prepared, study: optuna.Study) -> StudyRun | None:
        """The study's parent run (created, or reopened on a resume), or None without
        `logger=mlflow`."""
        if not wants_mlflow(prep.base):
            return None
        require_mlflow()
        from mlflow.tracking import MlflowClient

        s = prep.settings
        uri, artifacts = tracking_target(s.study_dir)
        s.study_dir.mkdir(parents=True, exist_ok=True)
        try:
            client = MlflowClient(uri)
            experiment = _experiment(client, artifacts)
            parent = _parent(client, study, uri, experiment, prep)
        except Exception as exc:  # MLflow's errors: a bad URI, an unreachable server
            raise ConfigError("logger", f"MLflow store {uri}: {str(exc).splitlines()[0]}"
                              ) from exc
        objectives = [o.metric for o in s.objectives]
        monitor = next((m for m in objectives if m not in COST_METRICS), objectives[0])
        return cls(client, parent, experiment, monitor, objectives)

    def _logged_trials(self) -> set[int]:
        runs = self.client.search_runs(
            [self.experiment], filter_string=f"tags.mlflow.parentRunId = '{self.parent}'",
            max_results=50000)
        return {int(r.data.tags[TRIAL_TAG]) for r in runs if TRIAL_TAG in r.data.tags}

    def log_new(self, study: optuna.Study) -> None:
        """A child run for every finished trial not logged yet (any worker's)."""
        for t in study.get_trials(deepcopy=False):
            if t.state.is_finished() and t.number not in self.logged:
                self.log_trial(t)
                self.logged.add(t.number)

    def log_trial(self, t: FrozenTrial) -> str:
        from mlflow.entities import Metric, Param

        state = trial_state(t)
        tags = {"mlflow.parentRunId": self.parent, "mlflow.runName": f"trial {t.number}",
                TRIAL_TAG: str(t.number), "state": state}
        for key in ("reason", "run_dir"):
            if t.user_attrs.get(key) is not None:
                tags[key] = str(t.user_attrs[key])[:5000]
        run = self.client.create_run(self.experiment, start_time=_ms(t.datetime_start),
                                     tags=tags)
        run_id = run.info.run_id
        now = _ms(t.datetime_complete) or 0
        metrics = [Metric(mlflow_name(self.monitor), float(v), now, int(step))
                   for step, v in sorted(t.intermediate_values.items())]
        for metric, value in zip(self.objectives, t.values or [], strict=False):
            metrics.append(Metric(f"objective/{mlflow_name(metric)}", float(value), now, 0))
        params = [Param(mlflow_name(k), str(v)[:500]) for k, v in t.params.items()]
        for i in range(0, max(len(params), len(metrics)), 100):  # MLflow's batch limits
            self.client.log_batch(run_id, metrics=metrics[i:i + 100], params=params[i:i + 100])
        status = "FAILED" if t.state == TrialState.FAIL else "FINISHED"
        self.client.set_terminated(run_id, status, end_time=_ms(t.datetime_complete))
        return str(run_id)

    def finish(self, study: optuna.Study, files: Sequence[Path] | None, stopped: bool) -> None:
        """The winners' files as the parent's artifacts, its summary metrics, its end."""
        from mlflow.entities import Metric

        self.log_new(study)
        for path in files or []:
            self.client.log_artifact(self.parent, str(path))
        trials = study.get_trials(deepcopy=False)
        now = int(datetime.now().timestamp() * 1000)
        metrics = [Metric(f"trials/{STATES[name]}", float(n), now, 0)
                   for name, n in verdict_counts(trials).items() if name in STATES]
        if len(study.directions) == 1 and any(t.state == TrialState.COMPLETE for t in trials):
            metrics.append(Metric(f"best/{mlflow_name(self.objectives[0])}",
                                  float(study.best_value), now, 0))
        self.client.log_batch(self.parent, metrics=metrics)
        self.client.set_terminated(self.parent, "KILLED" if stopped else "FINISHED")


def _experiment(client: Any, artifacts: str | None) -> str:
    name = experiment_name()
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "deleted":
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifacts))


def _parent(client: Any, study: optuna.Study, uri: str, experiment: str,
            prep: Prepared) -> str:
    """The study's parent run id: the stored one when it is in this store, else a new one."""
    stored = study.user_attrs.get(PARENT_ATTR)
    if isinstance(stored, dict) and stored.get("uri") == uri:
        try:
            run = client.get_run(stored["run_id"])
        except Exception:  # deleted, or another store under the same URI
            run = None
        if run is not None and run.info.lifecycle_stage != "deleted":
            client.update_run(run.info.run_id, status="RUNNING")
            return str(run.info.run_id)
    s = prep.settings
    run = client.create_run(experiment, run_name=s.study_name,
                            tags={"archforge.study": s.study_name,
                                  "archforge.storage": s.storage_url})
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in flatten(prep.base)]
    for i in range(0, len(params), 100):
        client.log_batch(run.info.run_id, params=params[i:i + 100])
    study.set_user_attr(PARENT_ATTR, {"run_id": run.info.run_id, "uri": uri})
    return str(run.info.run_id)
