"""A broken candidate is one FAIL or PRUNED trial, never the end of the search or resume."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.trial import TrialState
from search_helpers import TINY, assert_accounted, load, tiny_args

from archforge.cli.search import search
from archforge.search.strategy import training as training_module
from archforge.search.trial import objective as objective_module


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


def test_a_plugin_bug_fails_one_trial_and_the_search_goes_on(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = objective_module.parse_run
    calls = []

    def buggy(cfg: Any) -> Any:  # a plugin whose constructor divides by zero, once
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("division by zero in MyBlock.__init__")
        return real(cfg)

    monkeypatch.setattr(training_module, "run_training", _fake_train)
    monkeypatch.setattr(objective_module, "parse_run", buggy)
    assert search(tiny_args(root, "search.n_trials=3")) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert trials[0].user_attrs["reason"] == ("build: ZeroDivisionError: division by zero in "
                                              "MyBlock.__init__")
    assert trials[0].user_attrs["stage"] == "build"
    assert "ZeroDivisionError" in trials[0].user_attrs["traceback"]
    assert "retry" not in trials[0].user_attrs  # a bug is not re-run on resume
    assert search(tiny_args(root, "search.n_trials=3")) == 0  # the resume has nothing to do
    assert len(load(root).trials) == 3


def test_an_overflowing_width_is_an_invalid_candidate(root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    space = tmp_path / "overflow.yaml"
    space.write_text(TINY.read_text().replace("model.width: {type: float, low: 0.5, high: 1.0}",
                                              "model.width: [1.0e+308]"))
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    args = [f"search={space}", f"search.root={root}", "search.progress=false",
            "search.n_trials=2"]
    assert search(args) == 0
    trials = load(root).trials
    assert_accounted(load(root), 2)
    for t in trials:
        assert t.state == TrialState.PRUNED and t.user_attrs["infeasible"] is True
        assert t.user_attrs["reason"].startswith("invalid candidate")


def test_system_exit_from_candidate_code_is_a_failure(root: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def exits(cfg: Any, **kwargs: Any) -> Any:
        raise SystemExit(3)

    monkeypatch.setattr(training_module, "run_training", exits)
    assert search(tiny_args(root, "search.n_trials=2")) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert trials[0].user_attrs["reason"] == "exited (SystemExit 3)"


def test_without_a_terminal_each_finished_trial_is_one_line(
        root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    fake = _fake_train
    monkeypatch.setattr(training_module, "run_training", fake)
    args = [*tiny_args(root, "search.n_trials=2"), "search.progress=true"]  # stderr: a pipe
    assert search(args) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("trial ")]
    trials = load(root).trials
    assert len(lines) == 2
    for line, t in zip(lines, trials, strict=True):
        assert line.startswith(f"trial {t.number} COMPLETE value 0.5 | model.block=")
        assert f"model.shortcut={t.params['model.shortcut']}" in line
        assert line.endswith(f"| {t.user_attrs['duration_s']:.1f} s")
