"""`search.n_trials=N` trains N candidates: infeasible ones (refused before training) are
recorded and told to the sampler but do not use up the budget; a row of
`search.max_infeasible` of them ends the search."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from search_helpers import load

from archforge.cli.search import search
from archforge.search.runtime.study import counted, infeasible_streak, verdict, verdict_counts
from archforge.search.runtime.workers import infeasible_stop, remaining

DIST = {"x": optuna.distributions.FloatDistribution(0, 1)}


def _trial(state: TrialState, infeasible: bool = False,
           **attrs: object) -> optuna.trial.FrozenTrial:
    if infeasible:
        attrs["infeasible"] = True
    return create_trial(state=state, params={"x": 0.5}, distributions=DIST, user_attrs=attrs,
                        value=0.5 if state == TrialState.COMPLETE else None)


def test_infeasible_candidates_neither_count_nor_loop_forever() -> None:
    study = optuna.create_study(direction="maximize")
    for t in (_trial(TrialState.COMPLETE), _trial(TrialState.PRUNED, infeasible=True),
              _trial(TrialState.PRUNED), _trial(TrialState.PRUNED, infeasible=True),
              _trial(TrialState.PRUNED, infeasible=True)):
        study.add_trial(t)
    trials = study.get_trials()
    assert len(counted(trials)) == 2  # the complete and the pruned one
    assert infeasible_streak(trials) == 2
    assert remaining(study, 4) == 2 and remaining(study, 4, max_infeasible=3) == 2
    assert remaining(study, 4, max_infeasible=2) == 0
    assert infeasible_stop(study, 4, 3) is None
    assert infeasible_stop(study, 4, 2) == (
        "archforge search: stopped after 2 infeasible candidates in a row "
        "(search.max_infeasible=2), 2 of 4 trials trained: the space or search.constraints "
        "leave (almost) no feasible candidate; relax the constraints, narrow the space, or "
        "raise search.max_infeasible")
    # a failure re-queued for another try neither breaks nor extends the row
    study.add_trial(_trial(TrialState.FAIL, retry=True))
    study.add_trial(_trial(TrialState.WAITING, retry_of=5))
    assert infeasible_streak(study.get_trials()) == 2
    study.add_trial(_trial(TrialState.FAIL))  # a failed training counts and ends the row
    assert infeasible_streak(study.get_trials()) == 0
    assert len(counted(study.get_trials())) == 3


@pytest.mark.slow
def test_resnet_cifar_trains_the_trials_it_was_asked_for(root: Path) -> None:
    args = ["search=resnet_cifar", f"search.root={root}", "search.progress=false",
            "trainer.max_epochs=1", "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1"]
    assert search([*args, "search.n_trials=4"]) == 0
    trials = load(root, "resnet_cifar").get_trials()
    counts = verdict_counts(trials)
    assert counts["COMPLETE"] + counts["PRUNED"] == 4 and counts["FAIL"] == 0
    # identity shortcuts where the channels change: refused before training, not counted
    assert counts["INFEASIBLE"] >= 1
    for t in trials:
        trained = "run_dir" in t.user_attrs
        assert trained == (verdict(t) != "INFEASIBLE"), (t.number, t.user_attrs)
    # a resume counts the same way: nothing left to do at 4, one more trained at 5
    assert search([*args, "search.n_trials=4"]) == 0
    assert len(load(root, "resnet_cifar").get_trials()) == len(trials)
    assert search([*args, "search.n_trials=5"]) == 0
    after = load(root, "resnet_cifar").get_trials()
    assert len(counted(after)) == 5 and len(after) > len(trials)
