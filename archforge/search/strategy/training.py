"""The default evaluator: train the candidate with Lightning, the pruning callback attached,
and score the objectives from the validation metrics (or the meta-device costs)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from archforge.config.run import Run
from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.search.strategy.evaluator import EVALUATORS, Evaluator
from archforge.search.trial.callback import TrialCallback
from archforge.search.trial.mo_pruning import CurveMedianRule
from archforge.search.trial.outcome import Candidate, Outcome, guard


def run_training(cfg: Run, **kwargs: Any) -> Any:
    """`archforge.training.fit.train`, imported late (tests replace this function)."""
    from archforge.training.fit import train

    return train(cfg, **kwargs)


@EVALUATORS.register("training")
class TrainingEvaluator(Evaluator):
    """Lightning training, `trainer.max_epochs` at most, pruned by `search.pruner` (for several
    objectives by the accuracy curve's median rule, mo_pruning.py)."""

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__(settings)
        self.monitor = next(o for o in settings.objectives if o.metric not in COST_METRICS)
        self.multi_rule = (CurveMedianRule.from_pruner(
            settings.pruner, maximize=self.monitor.direction == "maximize")
            if settings.multi_objective else None)

    def evaluate(self, trial: optuna.Trial, candidate: Candidate) -> Outcome:
        trained = guard(lambda: self.train(trial, candidate), "train")
        if isinstance(trained, Outcome):
            return trained
        return guard(lambda: score(self.settings, trial, candidate.costs, *trained), "score")

    def train(self, trial: optuna.Trial, candidate: Candidate) -> tuple[Any, TrialCallback]:
        """Train with the pruning callback; the training result and the callback."""
        s = self.settings
        callback = TrialCallback(trial, s.storage_url, monitor=self.monitor.metric,
                                 multi_rule=self.multi_rule, multi_objective=s.multi_objective)
        run_dir = s.study_dir / "trials" / f"{trial.number:05d}"
        result = run_training(without_mlflow(candidate.run), callbacks=[callback],
                              run_dir=Path(run_dir),
                              progress=False, checkpoints=s.checkpoints,
                              # the meta check already traced the model: no sanity check
                              sanity_check=False)
        return result, callback


def without_mlflow(run: Run) -> Run:
    """A trial trains without its own MLflow run: the search logs it as a child of the
    study's run instead (search/mlflow_study.py)."""
    if "mlflow" not in run.keys.loggers:
        return run
    kept = [k for k in run.keys.loggers if k != "mlflow"]
    return dataclasses.replace(run, keys=dataclasses.replace(run.keys, logger=kept or None))


def score(settings: SearchSettings, trial: optuna.Trial, costs: dict[str, float], result: Any,
          callback: TrialCallback | None = None) -> Outcome:
    """The objective values (`result.metrics`, and the candidate's `costs`), or PRUNED with
    the reason the callback gave.

    The callback's decision is also read back from the storage: under `ddp_spawn` it ran in
    another process, whose callback object never comes back; in a job the sweeper launched
    (cli/sweeper.py) there is no callback here at all.
    """
    stored = stored_attrs(trial)
    stop_reason = (callback and callback.stop_reason) or stored.get("stop_reason")
    epochs = callback.epochs if callback is not None else 0
    trial.set_user_attr("epochs", max(epochs, int(stored.get("epochs", 0))))
    trial.set_user_attr("run_dir", str(result.run_dir))
    if stop_reason is not None:
        return Outcome(TrialState.PRUNED, reason=stop_reason)
    values = []
    for o in settings.objectives:
        v = costs[o.metric] if o.metric in COST_METRICS else result.metrics.get(o.metric)
        if v is None or not math.isfinite(float(v)):
            return Outcome(TrialState.PRUNED, reason=f"{o.metric} is {v!r} after training")
        values.append(float(v))
    trial.set_user_attr("metrics", {k: float(v) for k, v in result.metrics.items()})
    return Outcome(TrialState.COMPLETE, values=values)


def stored_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """The trial's user attrs as stored (written by this process or a spawned rank)."""
    for t in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.number == trial.number:
            return dict(t.user_attrs)
    return dict(trial.user_attrs)
