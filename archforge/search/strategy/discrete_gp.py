"""`search.sampler: gp_discrete`: Gaussian-process Bayesian optimisation whose acquisition is
maximised over every candidate of a finite space, not searched for.

Architecture spaces are small and discrete: NAS-Bench-201's six edges of five operations are
15,625 cells. Optuna's GPSampler maximises its acquisition with random samples and a local
search, which costs about half a second per trial and grows with the trials; here every
cell is scored (log expected improvement, gp_model.py) in a few milliseconds and the best
is exact. A space too large to enumerate (more than `max_candidates` points, or a
continuous parameter) is scored on `max_candidates` random points plus every one-change
neighbour of the five best observed points.

The model sees the study's COMPLETE trials (a pruned trial's value is from fewer epochs, not
comparable); the first `n_startup_trials` candidates are random (or the pre-screen's). A
candidate proposed again is a repeat - another training seed (repeats.py) - which is how the
model spends trials on confirming a close incumbent. Candidates that other workers are
training now are not proposed. Parameters outside the space every completed trial shares (a
conditional parameter) are drawn at random. One objective only.

`acquisition`: `ei` (log expected improvement over the best value measured, the default),
`ei_mean` (over the best posterior mean of a measured candidate) or `aei` (augmented EI,
which stops re-measuring a candidate whose value the model already knows); gp_model.py. On
NAS-Bench-201 seeds not used for the published figures the three were level within the
noise (bench/RESULTS.md, "gp_discrete").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from archforge.errors import ConfigError
from archforge.search.strategy.gp_model import (
    ACQUISITIONS,
    Encoded,
    GaussianProcess,
    Hyper,
    Layout,
)

_INT_ENUMERATE = 64  # an integer parameter with more values than this counts as numeric


@dataclass(frozen=True)
class Observed:
    """The completed trials as the model sees them: one row per distinct candidate (codes),
    its mean value (maximised), how often it was measured, the sum of squared deviations of
    its repeats, and the best single value measured."""

    names: tuple[str, ...]
    layout: Layout
    points: torch.Tensor
    means: torch.Tensor
    runs: torch.Tensor
    spread: torch.Tensor
    best: float


class _Dim:
    """One parameter's codes: a categorical index, or a value scaled to [0, 1]."""

    def __init__(self, name: str, dist: BaseDistribution) -> None:
        self.name, self.dist = name, dist
        if isinstance(dist, CategoricalDistribution):
            self.size: int | None = len(dist.choices)
            self.values: list[Any] | None = list(dist.choices)
        elif isinstance(dist, IntDistribution):
            values = list(range(dist.low, dist.high + 1, dist.step))
            self.size, self.values = None, values if len(values) <= _INT_ENUMERATE else None
        elif isinstance(dist, FloatDistribution):
            self.size, self.values = None, None
            if dist.step is not None:
                n = round((dist.high - dist.low) / dist.step)
                if n < _INT_ENUMERATE:
                    self.values = [dist.low + i * dist.step for i in range(n + 1)]
        else:
            raise ConfigError("search.sampler", f"gp_discrete: unsupported parameter {name} "
                              f"({type(dist).__name__})")

    def code(self, value: Any) -> float:
        if self.size is not None:
            assert self.values is not None
            return float(self.values.index(value))
        return self._scale(float(value))

    def codes(self) -> list[float] | None:
        """Every code of the parameter, or None when it is continuous."""
        if self.values is None:
            return None
        return [self.code(v) for v in self.values]

    def value(self, code: float) -> Any:
        if self.size is not None:
            assert self.values is not None
            return self.values[round(code)]
        dist = self.dist
        assert isinstance(dist, IntDistribution | FloatDistribution)
        low, high = (math.log(dist.low), math.log(dist.high)) if dist.log \
            else (float(dist.low), float(dist.high))
        raw = low + min(max(code, 0.0), 1.0) * (high - low)
        raw = math.exp(raw) if dist.log else raw
        if self.values is not None:  # snap to the nearest allowed value
            return min(self.values, key=lambda v: abs(v - raw))
        if isinstance(dist, IntDistribution):
            return int(min(max(round(raw), dist.low), dist.high))
        return float(min(max(raw, dist.low), dist.high))

    def _scale(self, value: float) -> float:
        dist = self.dist
        assert isinstance(dist, IntDistribution | FloatDistribution)
        if dist.high == dist.low:
            return 0.0
        if dist.log:
            return (math.log(value) - math.log(dist.low)) / (math.log(dist.high)
                                                              - math.log(dist.low))
        return (value - dist.low) / (dist.high - dist.low)


class DiscreteGPSampler(optuna.samplers.BaseSampler):
    def __init__(self, n_startup_trials: int = 10, max_candidates: int = 100_000,
                 acquisition: str = "ei", seed: int | None = None) -> None:
        if acquisition not in ACQUISITIONS:
            raise ConfigError("search.sampler.acquisition", f"got {acquisition!r}; expected "
                              f"one of {', '.join(ACQUISITIONS)}")
        self.acquisition = acquisition
        if n_startup_trials < 1:
            raise ConfigError("search.sampler.n_startup_trials",
                              f"got {n_startup_trials}; expected an integer >= 1")
        if max_candidates < 1:
            raise ConfigError("search.sampler.max_candidates",
                              f"got {max_candidates}; expected an integer >= 1")
        self.n_startup_trials = n_startup_trials
        self.max_candidates = max_candidates
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._space = IntersectionSearchSpace(include_pruned=False)
        self._hyper: dict[tuple[str, ...], Hyper] = {}  # the last fit, per space: warm start

    def reseed_rng(self) -> None:
        self._rng = np.random.RandomState()
        self._random.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if len(study.directions) > 1:
            raise ConfigError("search.sampler", "gp_discrete optimises one objective; use "
                              "nsga2 for several")

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {name: dist for name, dist in self._space.calculate(study).items()
                if not dist.single()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        dims = [_Dim(name, search_space[name]) for name in sorted(search_space)]
        names = tuple(d.name for d in dims)
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.value is not None and math.isfinite(t.value)
                and all(n in t.params for n in names)]
        if len(done) < self.n_startup_trials:
            return {}
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        groups: dict[tuple[float, ...], list[float]] = {}
        for t in done:
            key = tuple(d.code(t.params[d.name]) for d in dims)
            groups.setdefault(key, []).append(sign * float(t.value))  # type: ignore[arg-type]
        layout = Layout(tuple(d.size for d in dims))
        points = torch.tensor(list(groups), dtype=torch.float64)
        runs = torch.tensor([len(v) for v in groups.values()], dtype=torch.float64)
        means = torch.tensor([float(np.mean(v)) for v in groups.values()], dtype=torch.float64)
        spread = torch.tensor([float(np.sum((np.asarray(v) - np.mean(v)) ** 2))
                               for v in groups.values()], dtype=torch.float64)
        candidates = self._candidates(dims, points, means)
        free = torch.ones(len(candidates), dtype=torch.bool)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.number != trial.number and all(n in t.params for n in names):
                busy = torch.tensor([d.code(t.params[d.name]) for d in dims],
                                    dtype=torch.float64)
                free &= ~(candidates == busy).all(1)
        observed = Observed(names, layout, points, means, runs, spread,
                            best=max(max(v) for v in groups.values()))
        pick = self.propose(observed, candidates, free)
        return {d.name: d.value(float(c)) for d, c in zip(dims, candidates[pick], strict=True)}

    def propose(self, observed: Observed, candidates: torch.Tensor, free: torch.Tensor) -> int:
        """The index of the candidate to evaluate next: the highest acquisition among the
        `free` ones (not being trained by another worker), ties broken at random. A
        subclass may put another model here (bench/botorch_arm.py does)."""
        gp = GaussianProcess(Encoded(observed.points, observed.layout), observed.means,
                             observed.runs, observed.spread, self._hyper.get(observed.names),
                             best=observed.best)
        self._hyper[observed.names] = gp.hyper
        score = gp.log_expected_improvement(Encoded(candidates, observed.layout),
                                            self.acquisition)
        score[~free] = -math.inf
        best = torch.nonzero(score == score.max()).flatten()
        return int(best[self._rng.randint(len(best))])

    def _candidates(self, dims: list[_Dim], points: torch.Tensor,
                    means: torch.Tensor) -> torch.Tensor:
        """Every point of the space when it is small enough; otherwise random points and the
        one-change neighbours of the best observed ones."""
        axes = [d.codes() for d in dims]
        if all(a is not None for a in axes):
            size = math.prod(len(a) for a in axes if a is not None)
            if size <= self.max_candidates:
                grids = torch.meshgrid(*[torch.tensor(a, dtype=torch.float64)
                                         for a in axes if a is not None], indexing="ij")
                return torch.stack([g.reshape(-1) for g in grids], 1)
        columns = [np.asarray(a)[self._rng.randint(len(a), size=self.max_candidates)]
                   if a is not None else self._rng.uniform(size=self.max_candidates)
                   for a in axes]
        rows = np.stack(columns, 1).tolist()
        for i in torch.argsort(means, descending=True)[:5].tolist():
            base = points[i].tolist()
            for j, a in enumerate(axes):
                values = a if a is not None else np.linspace(0.0, 1.0, 11).tolist()
                rows.extend([*base[:j], v, *base[j + 1:]] for v in values if v != base[j])
        return torch.tensor(rows, dtype=torch.float64)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

