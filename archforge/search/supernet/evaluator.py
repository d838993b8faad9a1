"""`search.evaluator=supernet`: score each candidate on its slice of a weight-sharing
supernet trained once per study (Once-for-All, Cai et al. ICLR 2020; BigNAS, Yu et al.
ECCV 2020), instead of training it.

The trial samples, composes and checks its candidate on the meta device as with any other
evaluator (constraints included); this evaluator then slices the candidate's tensors out
of its branch's supernet, recalibrates batch norm on `search.supernet.calib_images`
training images and reports one validation pass as `val/acc` (and `val/loss`,
`val/acc_top5`). Settings: `search.supernet` (config/supernet_settings.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from archforge.config.run import parse_run
from archforge.config.search_settings import COST_METRICS, TRAIN_METRICS, SearchSettings
from archforge.errors import ConfigError
from archforge.search.space.search_space import SearchSpace, trial_config
from archforge.search.strategy.evaluator import EVALUATORS, Evaluator
from archforge.search.supernet.branches import check_space
from archforge.search.trial.outcome import Candidate, Outcome, guard

if TYPE_CHECKING:  # the engine imports the training stack: only when a trial scores
    from archforge.search.supernet.engine import Engine


@EVALUATORS.register("supernet")
class SupernetEvaluator(Evaluator):
    """The candidate's validation metrics on the supernet, after batch-norm recalibration."""

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__(settings)
        for i, o in enumerate(settings.objectives):
            if o.metric not in (*TRAIN_METRICS, *COST_METRICS):
                raise ConfigError(f"search.objectives[{i}].metric", f"{o.metric!r} is not "
                                  "measured on the supernet")
        self.base_overrides: list[str] | None = None
        self.space: SearchSpace | None = None
        self.engine: Engine | None = None

    def bind(self, base_overrides: list[str], space: SearchSpace) -> None:
        check_space(space)  # a space the supernet cannot serve fails before any trial
        self.base_overrides, self.space = list(base_overrides), space

    def make_engine(self) -> Engine:
        from archforge.search.supernet.engine import Engine

        if self.base_overrides is None or self.space is None:
            raise ConfigError("search.evaluator", "the supernet evaluator was not bound to a "
                              "search space (Evaluator.bind)")
        s = self.settings
        run = parse_run(trial_config(self.base_overrides, []))
        seed = s.supernet.seed if s.supernet.seed is not None else (s.seed or 0)
        return Engine(run, self.space, s.supernet, seed, s.study_dir, progress=s.progress)

    def ready(self) -> Engine:
        if self.engine is None:
            self.engine = self.make_engine().ready()
        return self.engine

    def finish(self, study: optuna.Study) -> optuna.Study:
        """Stage 2 (stage2.py) when `search.supernet.top_k` > 0."""
        if self.settings.supernet.top_k == 0 or self.space is None or \
                self.base_overrides is None:
            return study
        from archforge.search.supernet.stage2 import second_stage

        return second_stage(study, self.settings, self.space, self.base_overrides)

    def evaluate(self, trial: optuna.Trial, candidate: Candidate) -> Outcome:
        engine = guard(self.ready, "supernet")
        if isinstance(engine, Outcome):
            return engine
        started = time.perf_counter()
        point: dict[str, Any] = dict(trial.params)
        result = guard(lambda: engine.score(candidate.run.model, point), "score")
        if isinstance(result, Outcome):
            return result
        trial.set_user_attr("metrics", result.metrics)
        trial.set_user_attr("score_s", time.perf_counter() - started)
        trial.set_user_attr("supernet_branch", engine.supernet.branches[
            engine.supernet.index(point)].branch.label)
        values = []
        for o in self.settings.objectives:
            v = (candidate.costs[o.metric] if o.metric in COST_METRICS
                 else result.metrics.get(o.metric))
            if v is None:
                return Outcome(TrialState.FAIL, reason=f"{o.metric} is not measured for "
                               f"{self.settings.objectives} with {engine.data.num_classes} "
                               "classes", attrs={"stage": "score"})
            values.append(float(v))
        return Outcome(TrialState.COMPLETE, values=values)
