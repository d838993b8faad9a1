"""From command-line overrides to everything a worker needs: settings, space, study.

Every worker process calls `prepare` with the same overrides and gets the same result, so
workers share nothing but the storage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from archforge.config.compose import compose
from archforge.config.search_settings import SearchSettings, parse_settings
from archforge.errors import ConfigError
from archforge.plain import to_plain
from archforge.search.allow_list import trusted_targets
from archforge.search.first_winner import with_first_winner
from archforge.search.pruners import make_pruner
from archforge.search.runtime.study import open_storage, open_study
from archforge.search.space.search_space import SearchSpace, compile_space
from archforge.search.strategy import Evaluator, make_evaluator
from archforge.search.strategy.samplers import make_sampler
from archforge.search.trial.objective import Context


@dataclass
class Prepared:
    settings: SearchSettings
    cfg: DictConfig
    base_overrides: list[str]
    space: SearchSpace
    base: dict[str, Any]
    evaluator: Evaluator

    def context(self) -> Context:
        return Context(self.settings, self.space, self.base_overrides, self.evaluator)

    def max_epochs(self) -> int:
        return int(OmegaConf.select(self.cfg, "trainer.max_epochs", default=1) or 1)

    def study(self, worker: int = 0) -> optuna.Study:
        """Open (or create) the study with this worker's sampler and the pruner.

        The sampler's seed is `search.seed + 100003 * worker + trials already stored`: two
        workers never draw the same random candidates, and a resumed search does not
        replay the first run's start-up candidates.
        """
        s = self.settings
        seed = None if s.seed is None else s.seed + 100003 * worker + self._existing()
        sampler = make_sampler(s.sampler, self.space, seed, s.multi_objective,
                               s.allowed_targets)
        pruner = (None if s.multi_objective
                  else make_pruner(s.pruner, self.max_epochs(), s.allowed_targets))
        pruner = with_first_winner(pruner, s.min_completed)
        return open_study(s, self.base, self.space.spec(), sampler, pruner)


    def _existing(self) -> int:
        try:
            study = optuna.load_study(study_name=self.settings.study_name,
                                      storage=open_storage(self.settings.storage_url))
        except KeyError:
            return 0
        return len(study.get_trials(deepcopy=False))


def own_overrides(args: Sequence[str]) -> list[str]:
    """The `search=...` and `search.*` overrides among `args`."""
    return [a for a in args if a.lstrip("+~").partition("=")[0].partition(".")[0] == "search"]


def space_first(args: Sequence[str]) -> list[str]:
    """`args` with the search's own overrides (data=fashion_mnist, trainer.max_epochs, ...)
    in front, as every trial composes them: the command line can then set keys of the data
    or model the search selects (`data.train_subset=6000` after `search=fashion`)."""
    args = list(args)
    if not own_overrides(args):
        return args
    return _in_front(parse_settings(compose(own_overrides(args), "config")).overrides, args)


def _in_front(given: list[str], args: list[str]) -> list[str]:
    """`given + args`, unless `args` starts with them already (`archforge search` puts them
    there for Hydra, which may have written a schema key as `++key=value`)."""
    head = [a.removeprefix("++") for a in args[:len(given)]]
    return args if head == given else [*given, *args]


def prepare(args: Sequence[str]) -> Prepared:
    args = list(args)
    if not any(a.split("=", 1)[0] == "search" for a in args):
        raise ConfigError("search", "which search space? pass search=<name> (conf/search/) or "
                          "search=<path.yaml>")
    # The space's own overrides (data=fashion_mnist, trainer.max_epochs, ...) go first, so
    # the command line can set keys of the data or model they select (data.train_subset).
    base_overrides = space_first(args)
    cfg = compose(base_overrides, "config")
    settings = parse_settings(cfg)
    settings.allowed_targets = trusted_targets(settings.allowed_targets, args)
    evaluator = make_evaluator(settings)
    if evaluator.overrides():  # what the evaluator needs of every candidate goes last
        base_overrides = [*base_overrides, *evaluator.overrides()]
        cfg = compose(base_overrides, "config")
    base = to_plain(cfg, "config")
    space = compile_space(settings.space, base)
    return Prepared(settings, cfg, base_overrides, space, base, evaluator)


def quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
