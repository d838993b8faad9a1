"""Regularised ("aging") evolution as an Optuna sampler (Real et al., AAAI 2019, "Regularized
Evolution for Image Classifier Architecture Search", Algorithm 1).

The population is the `population_size` most recent finished trials (COMPLETE, by trial
number): each new member pushes the oldest out, whatever its score - the aging that gives
the method its name. Until the population is full, candidates are random. After that each
trial draws `tournament_size` members uniformly without replacement, takes the best as its
parent, copies the parent's parameters and changes exactly one of them (drawn uniformly
among those with more than one value) to a different value.

Everything is sampled per parameter (`sample_independent`), so conditional spaces work: a
parameter the parent never had is drawn at random. Workers share the population through
the storage. One objective only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from archforge.errors import ConfigError


@dataclass(frozen=True)
class Plan:
    """What a trial inherits: its parent's parameters, and the one to change."""

    parent: int  # trial number
    params: dict[str, Any]
    mutate: str | None


class RegularizedEvolutionSampler(optuna.samplers.BaseSampler):
    def __init__(self, population_size: int = 20, tournament_size: int = 5,
                 seed: int | None = None) -> None:
        if population_size < 2:
            raise ConfigError("search.sampler.population_size", f"got {population_size}; "
                              "expected an integer >= 2")
        if not 1 <= tournament_size <= population_size:
            raise ConfigError("search.sampler.tournament_size", f"got {tournament_size}; "
                              f"expected 1..population_size ({population_size})")
        self.population_size = population_size
        self.tournament_size = tournament_size
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self.plans: dict[int, Plan] = {}  # by trial number, for trials this sampler started

    def reseed_rng(self) -> None:
        self._rng = np.random.RandomState()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def population(self, study: optuna.Study) -> list[FrozenTrial]:
        """The `population_size` most recent COMPLETE trials, oldest first."""
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return sorted(done, key=lambda t: t.number)[-self.population_size:]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if len(study.directions) > 1:
            raise ConfigError("search.sampler", "evolution optimises one objective; use "
                              "nsga2 for several")
        population = self.population(study)
        if len(population) < self.population_size:
            return  # still filling the population: random candidates
        picks = self._rng.choice(len(population), self.tournament_size, replace=False)
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        parent = max((population[i] for i in picks),
                     key=lambda t: (sign * float(t.value if t.value is not None else -math.inf),
                                    t.number))
        mutable = sorted(name for name, dist in parent.distributions.items()
                         if not dist.single())
        mutate = mutable[self._rng.randint(len(mutable))] if mutable else None
        self.plans[trial.number] = Plan(parent.number, dict(parent.params), mutate)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        plan = self.plans.get(trial.number)
        if plan is None or param_name not in plan.params:
            return self._random.sample_independent(study, trial, param_name,
                                                   param_distribution)
        value = plan.params[param_name]
        if param_name == plan.mutate or not _contains(param_distribution, value):
            return self._other(param_distribution, value)
        return value

    def _other(self, dist: BaseDistribution, value: Any) -> Any:
        """A value of `dist` other than `value` (any value when `value` is not in it)."""
        if isinstance(dist, CategoricalDistribution):
            options = [c for c in dist.choices if c != value] or list(dist.choices)
            return options[self._rng.randint(len(options))]
        if isinstance(dist, IntDistribution):
            values = [v for v in range(dist.low, dist.high + 1, dist.step) if v != value]
            return int(values[self._rng.randint(len(values))]) if values else dist.low
        if isinstance(dist, FloatDistribution):
            if dist.log:
                return float(math.exp(self._rng.uniform(math.log(dist.low),
                                                        math.log(dist.high))))
            if dist.step is not None:
                n = round((dist.high - dist.low) / dist.step)
                steps = [i for i in range(n + 1) if dist.low + i * dist.step != value]
                return float(dist.low + steps[self._rng.randint(len(steps))] * dist.step)
            return float(self._rng.uniform(dist.low, dist.high))
        raise TypeError(f"unsupported distribution {dist!r}")


def _contains(dist: BaseDistribution, value: Any) -> bool:
    """Whether the parent's value is one `dist` can take (a conditional space may differ)."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(dist, IntDistribution):
        return (isinstance(value, int) and dist.low <= value <= dist.high
                and (value - dist.low) % dist.step == 0)
    if isinstance(dist, FloatDistribution):
        return isinstance(value, float) and dist.low <= value <= dist.high
    return False
