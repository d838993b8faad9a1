"""The second stage of a supernet search: the best `search.supernet.top_k` candidates by
supernet score are trained alone with the `training` evaluator at the space's budget (from
scratch, `trainer.max_epochs`, not pruned), and the search's winner is theirs.

They are trials of a study of their own, `<study_name>.stage2`, in the same storage: a
resumed search trains only the ones not yet complete, and `archforge report` can open it by
name. The winners' files (`best_run.yaml`, ...) are written from this study, so
`archforge train -cd <study> -cn best_run` retrains the stage-2 winner as for any search.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.search.runtime.signals import Interrupted, stop
from archforge.search.runtime.study import open_storage
from archforge.search.space.search_space import SearchSpace
from archforge.search.strategy.training import TrainingEvaluator
from archforge.search.trial.objective import Context, objective

log = logging.getLogger(__name__)

SUFFIX = ".stage2"
SCORE_ATTR = "supernet_score"  # the stage-1 value a stage-2 trial was chosen by
SOURCE_ATTR = "stage1_trial"


def key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def ranked(study: optuna.Study, settings: SearchSettings, k: int) -> list[FrozenTrial]:
    """The `k` best distinct candidates of stage 1 by their first trained objective."""
    index = next(i for i, o in enumerate(settings.objectives) if o.metric not in COST_METRICS)
    sign = -1.0 if settings.objectives[index].direction == "maximize" else 1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.values is not None]
    done.sort(key=lambda t: (sign * t.values[index], t.number))
    out: list[FrozenTrial] = []
    seen: set[str] = set()
    for t in done:
        if key(t.params) not in seen:
            seen.add(key(t.params))
            out.append(t)
        if len(out) == k:
            break
    return out


def second_stage(study: optuna.Study, settings: SearchSettings, space: SearchSpace,
                 base_overrides: list[str]) -> optuna.Study:
    """Train the top candidates (those not trained yet); the stage-2 study."""
    stage2 = optuna.create_study(study_name=settings.study_name + SUFFIX,
                                 storage=open_storage(settings.storage_url),
                                 directions=settings.directions,  # type: ignore[arg-type]
                                 load_if_exists=True,
                                 pruner=optuna.pruners.NopPruner())
    trained = {key(t.params): t for t in stage2.get_trials(deepcopy=False)
               if t.state == TrialState.COMPLETE}
    for t in stage2.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        stage2.tell(t.number, state=TrialState.FAIL)  # a killed run's: trained again below
    ctx = Context(settings, space, base_overrides, TrainingEvaluator(settings))
    for source in ranked(study, settings, settings.supernet.top_k):
        if key(source.params) in trained:
            continue
        stage2.enqueue_trial(source.params, user_attrs={SOURCE_ATTR: source.number,
                                                        SCORE_ATTR: source.values})
        trial = stage2.ask()
        log.info("stage 2: training trial %d's candidate (supernet score %s)", source.number,
                 source.values)
        try:
            out = objective(ctx, trial)
        except KeyboardInterrupt as exc:  # a stop signal: this candidate trains on resume
            stop.signum = stop.signum or (exc.signum if isinstance(exc, Interrupted) else 2)
            stage2.tell(trial, state=TrialState.FAIL)
            break
        for name, value in out.attrs.items():
            trial.set_user_attr(name, value)
        if out.reason is not None:
            trial.set_user_attr("reason", out.reason)
        if out.state == TrialState.COMPLETE:
            stage2.tell(trial, out.values)
        else:
            stage2.tell(trial, state=out.state)
    return stage2
