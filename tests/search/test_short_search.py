"""A short search always ends with a winner, and infeasible candidates are never "pruned"."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from search_helpers import HERE, load

from archforge.cli import main
from archforge.search.first_winner import FirstWinnerPruner
from archforge.search.runtime.study import verdict, verdict_counts

SHORT = HERE / "short.yaml"


class _Always(optuna.pruners.BasePruner):
    def __init__(self) -> None:
        self.calls = 0

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        self.calls += 1
        return True


def test_nothing_is_pruned_before_the_first_completed_trial() -> None:
    inner = _Always()
    study = optuna.create_study(pruner=FirstWinnerPruner(inner, min_completed=1))
    first = study.ask()
    first.report(0.5, 1)
    assert not first.should_prune() and inner.calls == 1  # the inner pruner still saw it
    study.tell(first, 0.5)
    second = study.ask()
    second.report(0.4, 1)
    assert second.should_prune()
    off = optuna.create_study(pruner=FirstWinnerPruner(_Always(), min_completed=0))
    trial = off.ask()
    trial.report(0.5, 1)
    assert trial.should_prune()


def test_infeasible_is_its_own_verdict() -> None:
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    trials = [
        create_trial(state=TrialState.PRUNED, params={"x": 0.1}, distributions=dist,
                     user_attrs={"infeasible": True, "reason": "invalid candidate: ..."}),
        create_trial(state=TrialState.PRUNED, params={"x": 0.2}, distributions=dist,
                     intermediate_values={1: 0.3}),
        create_trial(state=TrialState.COMPLETE, value=0.9, params={"x": 0.3},
                     distributions=dist),
    ]
    assert [verdict(t) for t in trials] == ["INFEASIBLE", "PRUNED", "COMPLETE"]
    counts = verdict_counts(trials)
    assert (counts["COMPLETE"], counts["PRUNED"], counts["INFEASIBLE"]) == (1, 1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_six_trial_search_ends_with_a_winner(
    workers: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    # progress on, stderr not a terminal: one line per finished trial
    args = ["search", f"search={SHORT}", f"search.root={root}", f"search.n_workers={workers}"]
    assert main(args) == 0
    out = capsys.readouterr()
    study = load(root, "short")
    trials = study.trials
    verdicts = [verdict(t) for t in trials]
    # six trained (with two workers one more may start); infeasible ones do not count
    trained = len(trials) - verdicts.count("INFEASIBLE")
    assert 6 <= trained <= 6 + workers - 1 and verdicts.count("COMPLETE") >= 1
    assert (root / "short" / "best_model.yaml").is_file()
    # Every pruned trial was pruned by the pruner after training an epoch; the identity
    # candidates are infeasible (refused before training) and reported so.
    for t, v in zip(trials, verdicts, strict=True):
        identity = t.params["model.shortcut"] == "identity"
        assert (v == "INFEASIBLE") == identity, (t.number, v, t.params)
        if v == "PRUNED":
            assert t.user_attrs["reason"].startswith("pruned at epoch 1")
    counts = verdict_counts(trials)
    assert counts["INFEASIBLE"] >= 1 and counts["PRUNED"] >= 1  # both kinds are present
    for t, v in zip(trials, verdicts, strict=True):
        assert f"trial {t.number} {v} value" in out.err
    assert "PRUNED value - | model.shortcut=identity" not in out.err
    text = out.out + out.err
    assert (f"complete {counts['COMPLETE']} pruned {counts['PRUNED']} "
            f"infeasible {counts['INFEASIBLE']} failed 0") in text
    assert "nothing exported" not in text
