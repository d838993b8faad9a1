"""How candidates are proposed: samplers by name, `{name: ..., **kwargs}` or `{_target_: ...}`.

TPE (Bergstra et al. 2011) is the default; `random`, `grid` (over the space's categorical
and integer values), `cmaes` (Hansen 2016), `gp` (Gaussian-process Bayesian optimisation
with log expected improvement; Optuna's GPSampler, which models the evaluation noise) and
`nsga2` (Deb et al. 2002, for several objectives) are Optuna's; `evolution` is archforge's
regularised evolution (Real et al. 2019, evolution.py) and `gp_discrete` archforge's
Gaussian-process BO that scores every candidate of a finite space (discrete_gp.py). Each
worker seeds its sampler with `search.seed + worker`, so two workers never propose the same
random start-up candidates.

Adding a sampler: a file with an `optuna.samplers.BaseSampler` subclass and one entry,
`SAMPLERS.register("name")(MySampler)` (below, or in a plugin module loaded through the
`archforge.plugins` entry points); `search.sampler: {name: name, option: value}` then
passes its options as keyword arguments, and `seed` when the class takes one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from archforge.errors import ConfigError
from archforge.model.registry import Registry
from archforge.search.space.search_space import SearchSpace
from archforge.search.strategy.discrete_gp import DiscreteGPSampler
from archforge.search.strategy.evolution import RegularizedEvolutionSampler
from archforge.search.target import instantiate_target, locate

SamplerFactory = Callable[..., optuna.samplers.BaseSampler]
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")
for _name, _cls in (
    ("tpe", optuna.samplers.TPESampler),
    ("random", optuna.samplers.RandomSampler),
    ("grid", optuna.samplers.GridSampler),
    ("cmaes", optuna.samplers.CmaEsSampler),
    ("gp", optuna.samplers.GPSampler),
    ("gp_discrete", DiscreteGPSampler),
    ("nsga2", optuna.samplers.NSGAIISampler),
    ("nsgaii", optuna.samplers.NSGAIISampler),
    ("evolution", RegularizedEvolutionSampler),
):
    SAMPLERS.register(_name)(_cls)


def make_sampler(
    spec: Any, space: SearchSpace, seed: int | None, multi_objective: bool,
    allowed: Sequence[str] = (),
) -> optuna.samplers.BaseSampler:
    """The sampler for `search.sampler`; `_target_` only under allowed modules (target.py)."""
    key = "search.sampler"
    if spec is None:
        spec = "nsga2" if multi_objective else "tpe"
    if isinstance(spec, dict) and "_target_" in spec:
        kwargs = dict(spec)
        if seed is not None and "seed" not in kwargs and _takes_seed(kwargs["_target_"],
                                                                      allowed):
            kwargs["seed"] = seed
        return instantiate_target(kwargs, key, optuna.samplers.BaseSampler, allowed)
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, dict) and "name" in spec:
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        name = spec["name"]
    else:
        raise ConfigError(key, f"got {spec!r}; expected a name ({', '.join(SAMPLERS)}), "
                          "{name: ..., options...} or {_target_: ...}")
    cls = SAMPLERS.get(str(name).lower(), f"{key}.name" if isinstance(spec, dict) else key)
    if cls is optuna.samplers.GridSampler and "search_space" not in kwargs:
        kwargs["search_space"] = space.grid()
    if seed is not None and "seed" not in kwargs and _has_seed(cls):
        kwargs["seed"] = seed
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(key, f"{getattr(cls, '__name__', name)}: {exc}") from exc


def _takes_seed(target: str, allowed: Sequence[str]) -> bool:
    factory = locate(target, "search.sampler._target_", allowed)  # refuses before importing
    return _has_seed(factory)


def _has_seed(factory: Callable[..., object]) -> bool:
    try:
        return "seed" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
