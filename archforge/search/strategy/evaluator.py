"""How a candidate is evaluated: the `Evaluator` contract and its registry.

A trial samples, composes and checks its candidate on the meta device (objective.py), then
hands the `Candidate` to the study's evaluator, chosen by `search.evaluator`: a name, or
`{name: ..., option: value}` whose options are the evaluator's keyword arguments. Built in:
`training` (the default: Lightning training with the pruning callback, training.py) and
`table` (NAS-Bench-201's stored results, table.py) and `supernet` (slices of a
weight-sharing supernet trained once per study, archforge/search/supernet/).

Adding an evaluator: one file with a subclass and `@EVALUATORS.register("name")`, imported
by `archforge/search/strategy/__init__.py` (or by a plugin module that the
`archforge.plugins` entry points load in every worker). The worker loop does not change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import optuna

from archforge.config.search_settings import SearchSettings
from archforge.errors import ConfigError
from archforge.model.registry import Registry
from archforge.search.space.search_space import SearchSpace
from archforge.search.trial.outcome import Candidate, Outcome


class Evaluator(ABC):
    """Scores a checked candidate. Construct with the settings and the config's options;
    `evaluate` runs in every worker, once per trial."""

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings

    def bind(self, base_overrides: list[str], space: SearchSpace) -> None:  # noqa: B027
        """Called once by `prepare` with the search's base overrides and compiled space
        (the supernet evaluator builds its networks from them); nothing by default."""

    def finish(self, study: optuna.Study) -> optuna.Study:
        """After the last trial: the study whose winners are exported. The supernet
        evaluator trains its best candidates alone here (a second stage); by default the
        search's own study."""
        return study

    def overrides(self) -> list[str]:
        """Config overrides every candidate of this search gets, after the command line's
        (the table evaluator fixes the data the table was measured on)."""
        return []

    @abstractmethod
    def evaluate(self, trial: optuna.Trial, candidate: Candidate) -> Outcome:
        """The trial's Outcome. Run failure-prone steps through `outcome.guard(step, stage)`
        so that their exception becomes the Outcome; anything raised here is recorded as a
        failure of stage `evaluate`."""


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")


def evaluator_name_and_options(spec: Any) -> tuple[str, dict[str, Any]]:
    key = "search.evaluator"
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return spec["name"], {k: v for k, v in spec.items() if k != "name"}
    raise ConfigError(key, f"got {spec!r}; expected a name ({', '.join(EVALUATORS)}) or "
                      "{name: ..., options...}")


def make_evaluator(settings: SearchSettings) -> Evaluator:
    """The evaluator `search.evaluator` names, built with its options."""
    name, options = evaluator_name_and_options(settings.evaluator)
    key = "search.evaluator.name" if isinstance(settings.evaluator, Mapping) else \
        "search.evaluator"
    cls = EVALUATORS.get(name, key)
    try:
        return cls(settings, **options)
    except TypeError as exc:
        raise ConfigError("search.evaluator", f"{name}: {exc}") from exc
