"""Optuna pruners from config: `median` (default), `successive_halving`, `hyperband`, `none`.

Median stopping (Golovin et al. 2017, Google Vizier), asynchronous successive halving
(Li et al. 2018, ASHA) and Hyperband (Li et al. 2018). Steps are epochs, counted from 1, so
`min_resource: 1` means "judge after one epoch"; Hyperband's `max_resource` defaults to
`trainer.max_epochs`. For several objectives Optuna cannot prune; see `mo_pruning.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna

from archforge.errors import ConfigError, describe_choices
from archforge.search.target import instantiate_target

PRUNERS: dict[str, type[optuna.pruners.BasePruner]] = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "asha": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "threshold": optuna.pruners.ThresholdPruner,
    "none": optuna.pruners.NopPruner,
}


def pruner_name_and_options(spec: Any) -> tuple[str, dict[str, Any]]:
    """The short name and options (`_target_` specs return their target path)."""
    key = "search.pruner"
    if spec is None or spec is False:
        return "none", {}
    if isinstance(spec, str):
        return spec.lower(), {}
    if isinstance(spec, dict) and "_target_" in spec:
        return str(spec["_target_"]), {k: v for k, v in spec.items() if k != "_target_"}
    if isinstance(spec, dict) and "name" in spec:
        return str(spec["name"]).lower(), {k: v for k, v in spec.items() if k != "name"}
    raise ConfigError(key, f"got {spec!r}; expected a name ({', '.join(PRUNERS)}), "
                      "{name: ..., options...} or {_target_: ...}")


def make_pruner(spec: Any, max_epochs: int,
                allowed: Sequence[str] = ()) -> optuna.pruners.BasePruner:
    """The pruner for `search.pruner`; `_target_` only under allowed modules (target.py)."""
    key = "search.pruner"
    if isinstance(spec, dict) and "_target_" in spec:
        return instantiate_target(dict(spec), key, optuna.pruners.BasePruner, allowed)
    name, kwargs = pruner_name_and_options(spec)
    cls = PRUNERS.get(name)
    if cls is None:
        raise ConfigError(f"{key}.name" if isinstance(spec, dict) else key,
                          f"unknown pruner {name!r}; {describe_choices(name, PRUNERS)}")
    if cls is optuna.pruners.HyperbandPruner:
        kwargs.setdefault("max_resource", max(1, int(max_epochs)))
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"{cls.__name__}: {exc}") from exc
