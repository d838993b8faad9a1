"""Each use of Optuna's private API (optuna_private.py) against the installed Optuna."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from archforge.search.runtime.optuna_private import (
    set_attr_of,
    storage_of,
    trial_id,
    write_intermediate,
)


def test_every_private_call_works_with_the_installed_optuna() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    first, second = study.ask(), study.ask()
    assert isinstance(storage_of(study), optuna.storages.BaseStorage)
    frozen = study.get_trials()
    ids = [trial_id(first), trial_id(second)]
    assert len(set(ids)) == 2 and [trial_id(t) for t in frozen] == ids
    # a spawned DDP rank reopens the running trial by its id
    assert optuna.Trial(study, ids[1]).number == second.number

    write_intermediate(study, ids[0], 1, 0.25)  # what report() refuses with two directions
    write_intermediate(study, ids[0], 2, 0.5)
    set_attr_of(study, frozen[1], "reason", "worker lost")  # a trial another process owns
    trials = study.get_trials()
    assert trials[0].intermediate_values == {1: 0.25, 2: 0.5}
    assert trials[1].user_attrs == {"reason": "worker lost"}
    assert trials[1].state == TrialState.RUNNING
