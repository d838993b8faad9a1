"""A candidate proposed again trains with a new seed, and the winner is the candidate with
the best mean over its runs (archforge/search/repeats.py)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from omegaconf import OmegaConf
from search_helpers import TINY, load

from archforge.cli.search import search
from archforge.search.repeats import best_by_mean, repeat_index, runs_of


def _study(values: list[tuple[str, float]], direction: str = "maximize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for arch, value in values:
        study.enqueue_trial({"arch": arch})
        trial = study.ask()
        trial.suggest_categorical("arch", ["a", "b", "c"])
        study.tell(trial, value)
    return study


def test_the_winner_is_the_best_mean_not_the_luckiest_run() -> None:
    # a: one lucky run (0.95) and one poor (0.75), mean 0.85; b: 0.9 twice
    study = _study([("a", 0.95), ("b", 0.9), ("a", 0.75), ("b", 0.9), ("c", 0.5)])
    assert study.best_trial.params == {"arch": "a"}  # Optuna's: the single best value
    winner = best_by_mean(study)
    assert winner is not None
    assert winner.trial.params == {"arch": "b"} and winner.runs == 2
    assert winner.mean == pytest.approx(0.9) and winner.trial.number == 1  # the earlier tie
    assert [t.number for t in runs_of(study, study.trials[0])] == [0, 2]


def test_minimising_and_single_runs() -> None:
    study = _study([("a", 0.3), ("b", 0.2), ("a", 0.05)], direction="minimize")
    winner = best_by_mean(study)
    assert winner is not None and winner.trial.params == {"arch": "a"}
    assert winner.trial.number == 2 and winner.mean == pytest.approx(0.175)
    once = _study([("c", 0.4)])
    assert best_by_mean(once).trial.number == 0  # type: ignore[union-attr]
    assert best_by_mean(optuna.create_study()) is None


def test_repeat_index_counts_earlier_runs_of_the_same_candidate() -> None:
    study = _study([("a", 0.1), ("b", 0.2), ("a", 0.3)])
    study.enqueue_trial({"arch": "a"})
    trial = study.ask()
    trial.suggest_categorical("arch", ["a", "b", "c"])
    assert repeat_index(trial) == 2
    study.tell(trial, 0.0)
    study.enqueue_trial({"arch": "c"})
    fresh = study.ask()
    fresh.suggest_categorical("arch", ["a", "b", "c"])
    assert repeat_index(fresh) == 0


@pytest.mark.slow
def test_a_repeated_candidate_trains_with_the_next_seed(root: Path, tmp_path: Path) -> None:
    space = yaml.safe_load(TINY.read_text())
    space["sampler"] = "random"  # one candidate: every trial repeats it
    space["space"] = {"model.block": ["basic"], "model.shortcut": ["projection"]}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(space))
    assert search([f"search={path}", f"search.root={root}", "search.progress=false",
                   "search.n_trials=3", "seed=7", "search.winner=mean"]) == 0
    trials = load(root).trials
    assert [t.user_attrs["overrides"][-1] for t in trials[1:]] == ["seed=8", "seed=9"]
    assert "seed=" not in " ".join(trials[0].user_attrs["overrides"])
    assert [t.user_attrs.get("repeat") for t in trials] == [None, 1, 2]
    text = (root / "tiny" / "best_run.yaml").read_text()
    best = max(trials, key=lambda t: (t.value, -t.number))
    assert OmegaConf.create(text).seed == 7 + trials.index(best)
    assert "the candidate's mean over its 3 runs (seeds)" in text.splitlines()[0]


def test_an_unknown_winner_rule_names_the_key() -> None:
    from archforge.config.search_settings import parse_settings
    from archforge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"search\.winner: got 'median'"):
        parse_settings({"search": {"space": {"a": [1]}, "winner": "median"}})


def test_single_winner_by_rule_for_any_application_s_trials() -> None:
    """Another application's sweep has no archforge attrs: both rules still name a trial."""
    from archforge.search.repeats import single_winner

    study = _study([("a", 0.95), ("b", 0.9), ("a", 0.75), ("b", 0.9)])
    done = study.get_trials()
    assert single_winner(study, done, "best_run").number == 0  # type: ignore[union-attr]
    assert single_winner(study, done, "mean").number == 1  # type: ignore[union-attr]
    assert single_winner(study, [], "mean") is None
