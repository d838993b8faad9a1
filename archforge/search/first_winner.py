"""A pruner wrapper that prunes nothing until the study has a completed trial.

Pruners compare a trial with those before it; early in a study the comparison is against
few (Hyperband with `bootstrap_count`, a median of one), and a short search could end with
every trial pruned and nothing to export. Wrapped, the inner pruner still sees every report
(successive halving records its rung values), but its verdict is ignored until
`min_completed` trials have completed: a search that trains at least that many feasible
candidates without an error always has a winner.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState


class FirstWinnerPruner(optuna.pruners.BasePruner):
    def __init__(self, pruner: optuna.pruners.BasePruner, min_completed: int = 1) -> None:
        self.pruner = pruner
        self.min_completed = min_completed

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        verdict = self.pruner.prune(study, trial)
        if not verdict or self.min_completed <= 0:
            return verdict
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return len(done) >= self.min_completed


def with_first_winner(pruner: optuna.pruners.BasePruner | None,
                      min_completed: int) -> optuna.pruners.BasePruner | None:
    """`pruner` wrapped when `min_completed` > 0 (`search.min_completed`), else as it is."""
    if pruner is None or min_completed <= 0:
        return pruner
    return FirstWinnerPruner(pruner, min_completed)
