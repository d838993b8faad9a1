"""From command-line overrides to everything a worker needs: settings, space, study.

Every worker process calls `prepare` with the same overrides and gets the same result, so
workers share nothing but the storage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from archforge.config.compose import compose
from archforge.config.search_file import (
    SECURITY_KEYS,
    SearchFile,
    check_overrides,
    naming_the_file,
    override_key,
    search_file,
)
from archforge.config.search_settings import SearchSettings, parse_settings
from archforge.config.space_data import follow_user_data
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
    notes: list[str] = field(default_factory=list)  # what the space dropped for the data

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


@dataclass(frozen=True)
class SpaceArgs:
    """A search's command line, split: the search file's `overrides` (checked by the one
    rule of archforge/config/search_file.py, following the data the person named) and the
    person's own arguments."""

    file: list[str]
    user: list[str]
    notes: list[str]  # one line per file override dropped for the person's data
    source: SearchFile

    @property
    def all(self) -> list[str]:
        return [*self.file, *self.user]


def split_args(args: Sequence[str]) -> SpaceArgs:
    """The search file's overrides and the person's own arguments among `args` (which may
    already start with the former: `archforge search` puts them there for Hydra)."""
    args = list(args)
    own = own_overrides(args)
    if not own:
        return SpaceArgs([], args, [], SearchFile(None))
    source = search_file(args)  # refuses ${oc.env:...} before anything resolves the file
    if any(k.lstrip("+").partition("=")[0] == "search.overrides" for k in own):
        source = SearchFile(None)  # the command line's own list: no file, no lines
    source = source.holding(parse_settings(compose(own, "config")).overrides)
    check_overrides(source)
    kept, notes = follow_user_data(list(source.items), args, source)
    return SpaceArgs(kept, _after(kept, args), notes, source)


def space_first(args: Sequence[str]) -> list[str]:
    """`args` with the search file's own overrides (data=fashion_mnist, trainer.max_epochs,
    ...) in front, as every trial composes them: the command line can then set keys of the
    data or model the search selects (`data.train_subset=6000` after `search=fashion`)."""
    return split_args(args).all


def _after(given: list[str], args: list[str]) -> list[str]:
    """`args` less `given` at its start (where Hydra may have written a schema key as
    `++key=value`); `args` itself when it does not start with them."""
    head = [a.removeprefix("++") for a in args[:len(given)]]
    return args[len(given):] if head == [g.removeprefix("++") for g in given] else args


def refuse_redirects(settings: SearchSettings, user: Sequence[str], source: SearchFile) -> None:
    """A search file may name its study but cannot send the study's files or tables
    elsewhere: `storage:` and `root:` as keys of the file must stay at their defaults unless
    the person's own command line sets them (the file may come from someone else)."""
    defaults = SearchSettings(space={})
    given = {override_key(a) for a in user}
    for key in ("storage", "root"):
        if f"search.{key}" in given or getattr(settings, key) == getattr(defaults, key):
            continue
        raise ConfigError(f"search.{key}", f"{source.key_where(key)}: a search file cannot "
                          f"choose {SECURITY_KEYS[key]} ({getattr(settings, key)!r}); pass "
                          f"search.{key}=... on your own command line")


def prepare(args: Sequence[str]) -> Prepared:
    args = list(args)
    if not any(a.split("=", 1)[0] == "search" for a in args):
        raise ConfigError("search", "which search space? pass search=<name> (conf/search/) or "
                          "search=<path.yaml>")
    # The space's own overrides (data=fashion_mnist, trainer.max_epochs, ...) go first, so
    # the command line can set keys of the data or model they select (data.train_subset).
    split = split_args(args)
    base_overrides = split.all
    with naming_the_file(split.file, split.source, split.user):
        cfg = compose(base_overrides, "config")
    settings = parse_settings(cfg)
    # only the person's own arguments can allow modules, never the file's overrides
    settings.allowed_targets = trusted_targets(settings.allowed_targets, split.user,
                                               split.source.key_where("allowed_targets"))
    refuse_redirects(settings, split.user, split.source)
    evaluator = make_evaluator(settings)
    if evaluator.overrides():  # what the evaluator needs of every candidate goes last
        base_overrides = [*base_overrides, *evaluator.overrides()]
        cfg = compose(base_overrides, "config")
    base = to_plain(cfg, "config")
    space = compile_space(settings.space, base)
    evaluator.bind(base_overrides, space)
    return Prepared(settings, cfg, base_overrides, space, base, evaluator, split.notes)


def quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
