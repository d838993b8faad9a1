"""Every use of Optuna's private API in archforge, each with why the public API does not do.

Optuna keeps a study's storage (`Study._storage`) and a trial's storage key
(`Trial._trial_id`, `FrozenTrial._trial_id`) private. A release may rename them; when it
does, this module is the one place to change and `tests/search/test_optuna_private.py`
says so at once. Everything else in `archforge.search` uses the public API.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The trial's storage key.

    Why private: a spawned DDP rank must reopen the running trial from the storage
    (`optuna.Trial(study, trial_id)` is public, the id is not), and a trial is numbered per
    study while the storage's methods take this id.
    """
    return int(trial._trial_id)


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage the study reads and writes.

    Why private: `optuna.load_study` would open a second storage object (a second journal
    replay); the writes below need the study's own one.
    """
    return study._storage


def write_intermediate(study: optuna.Study, trial_id_: int, step: int, value: float) -> None:
    """Record a learning-curve point of a multi-objective trial.

    Why private: `Trial.report` raises for studies with several directions, yet the curve
    is what the multi-objective pruning rule, the plots and optuna-dashboard read.
    """
    storage_of(study).set_trial_intermediate_value(trial_id_, step, value)


def set_attr_of(study: optuna.Study, trial: FrozenTrial, key: str, value: object) -> None:
    """Set a user attr on a RUNNING trial that another (dead) process owns.

    Why private: `Trial.set_user_attr` needs a live `Trial`, which only the process that
    asked for it has; reaping an orphan must write its `reason` and `retry` from outside.
    """
    storage_of(study).set_trial_user_attr(trial_id(trial), key, value)
