"""Range checks for the counting options of a named sampler or pruner, when the search
settings are parsed.

Optuna takes several of them without a check and then misbehaves: `TPESampler(
n_startup_trials=-1)` starts the model from no trial, `HyperbandPruner(min_resource=0)`
builds brackets that judge a trial before its first epoch. Each option below counts trials,
steps (epochs here) or candidates and means the same in every Optuna sampler or pruner that
takes it, so one table covers `{name: ..., option: value}`. A `{_target_: ...}` spec names the
user's own class, whose options are its own to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archforge.typed import require

# option -> the smallest valid value
SAMPLER_OPTIONS = {"n_startup_trials": 0, "n_ei_candidates": 1, "population_size": 2,
                   "tournament_size": 1, "max_candidates": 1}
PRUNER_OPTIONS = {"n_startup_trials": 0, "n_warmup_steps": 0, "interval_steps": 1,
                  "n_min_trials": 1, "min_resource": 1, "max_resource": 1,
                  "reduction_factor": 2, "bootstrap_count": 0, "min_early_stopping_rate": 0}
AUTO = ("min_resource", "max_resource")  # Optuna also takes "auto" for these


def check_strategy_options(spec: Any, key: str, table: Mapping[str, int]) -> None:
    """One ConfigError naming `<key>.<option>` for a counting option out of range."""
    if not isinstance(spec, Mapping) or "_target_" in spec:
        return
    for option, low in table.items():
        if option not in spec:
            continue
        value = spec[option]
        if option in AUTO and value == "auto":
            continue
        auto = " or 'auto'" if option in AUTO else ""
        require(isinstance(value, int) and not isinstance(value, bool) and value >= low,
                f"{key}.{option}", value, f"an integer >= {low}{auto}")
