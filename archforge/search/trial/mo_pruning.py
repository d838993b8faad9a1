"""Early stopping for multi-objective studies, where Optuna's pruners cannot be used.

Optuna refuses `trial.report` / `trial.should_prune` when a study has several directions,
because "worse" is not defined for a vector of objectives. archforge's cost objectives
(params, MACs, latency) are fixed before the first epoch, so only the accuracy curve can
still change: a trial is stopped when its best accuracy so far is below the median
(`percentile`) of what finished trials had reached at the same epoch - the median stopping
rule (Golovin et al. 2017, "Google Vizier") applied to that one curve.

Curves are stored as the trials' intermediate values (written straight to the storage, so
plots and optuna-dashboard show them) and, redundantly, as the user attr `curve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from archforge.search.pruners import pruner_name_and_options


@dataclass(frozen=True)
class CurveMedianRule:
    n_startup_trials: int = 5  # finished trials needed before anything is stopped
    n_warmup_steps: int = 1  # epochs every trial trains before it can be stopped
    percentile: float = 50.0
    maximize: bool = True  # the curve's direction (val/acc: maximise)

    @classmethod
    def from_pruner(cls, spec: Any, maximize: bool) -> CurveMedianRule | None:
        """The rule for `search.pruner`; None when pruning is off.

        median/percentile options carry over; successive halving and Hyperband have no
        curve-only equivalent here, so they fall back to the median rule's defaults.
        """
        name, options = pruner_name_and_options(spec)
        if name == "none":
            return None
        kwargs: dict[str, Any] = {}
        if name in ("median", "percentile"):
            for key in ("n_startup_trials", "n_warmup_steps", "percentile"):
                if key in options:
                    kwargs[key] = options[key]
        return cls(maximize=maximize, **kwargs)

    def should_prune(self, study: optuna.Study, number: int, step: int,
                     curve: list[float]) -> bool:
        if step <= self.n_warmup_steps or not curve:
            return False
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        finished = study.get_trials(deepcopy=False, states=states)
        if sum(t.state == TrialState.COMPLETE for t in finished) < self.n_startup_trials:
            return False
        others = [t.intermediate_values[step] for t in finished
                  if t.number != number and step in t.intermediate_values
                  and math.isfinite(t.intermediate_values[step])]
        if not others:
            return False
        best = max(curve) if self.maximize else min(curve)
        q = self.percentile if self.maximize else 100.0 - self.percentile
        threshold = float(np.percentile(others, q))
        return best < threshold if self.maximize else best > threshold
