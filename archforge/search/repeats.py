"""Candidates a sampler proposes more than once: each repeat is a new training seed, and the
winner is chosen by the mean over a candidate's runs.

A sampler that models noise (TPE late in a search, GP) proposes a candidate it has already
seen when it believes the candidate is good. Training it again with the same seed would on
CPU reproduce the same number and waste the run; with the k-th repeat trained at
`seed + k` the repeat is a second measurement, and the mean of a candidate's runs is a less
noisy estimate of its quality than its luckiest run (NAS-Bench-201's seeds differ by about
0.15 points, as much as its ten best cells differ from each other; Dong & Yang 2020). The
winner is the candidate with the best mean over its completed runs; its exported run is
the best of them. A candidate run once is judged by that run, as before.
"""

from __future__ import annotations

import statistics
from collections.abc import Hashable
from dataclasses import dataclass

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

# An earlier trial counts as an earlier run of the same candidate unless it never started.
_STARTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def candidate_key(params: dict[str, object]) -> Hashable:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def repeat_index(trial: optuna.Trial) -> int:
    """How many earlier trials of the study ran this trial's candidate (same parameters)."""
    key = candidate_key(trial.params)
    return sum(1 for t in trial.study.get_trials(deepcopy=False, states=_STARTED)
               if t.number < trial.number and candidate_key(t.params) == key)


def runs_of(study: optuna.Study, trial: FrozenTrial) -> list[FrozenTrial]:
    """The completed runs of `trial`'s candidate (itself included)."""
    key = candidate_key(trial.params)
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if candidate_key(t.params) == key]


@dataclass(frozen=True)
class Winner:
    trial: FrozenTrial  # the candidate's best completed run
    mean: float  # the mean objective value over its completed runs
    runs: int


def best_by_mean(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> Winner | None:
    """Single objective: the candidate whose completed runs have the best mean value."""
    done = trials if trials is not None else study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,))
    groups: dict[Hashable, list[FrozenTrial]] = {}
    for t in done:
        if t.state == TrialState.COMPLETE and t.value is not None:
            groups.setdefault(candidate_key(t.params), []).append(t)
    if not groups:
        return None
    sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
    # ties: the candidate run more often, then the earliest
    runs = max(groups.values(), key=lambda g: (sign * mean_value(g), len(g), -g[0].number))
    best = max(runs, key=lambda t: (sign * float(t.value), -t.number))  # type: ignore[arg-type]
    return Winner(best, mean_value(runs), len(runs))


def mean_value(runs: list[FrozenTrial]) -> float:
    """The mean objective value of completed single-objective runs."""
    return statistics.fmean(float(t.value) for t in runs)  # type: ignore[arg-type]


def single_winner(study: optuna.Study, done: list[FrozenTrial], rule: str) -> FrozenTrial | None:
    """One objective's winner among the completed trials `done`, by `search.winner`:
    `best_run` is Optuna's best trial, `mean` the best run of the best candidate by mean."""
    if not done:
        return None
    if rule == "best_run":
        return study.best_trial
    best = best_by_mean(study, done)
    return None if best is None else best.trial
