"""A broken candidate is one FAIL or PRUNED trial, never the end of the search or resume."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.trial import TrialState
from search_helpers import TINY, load, tiny_args

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
            "search.n_trials=2", "search.max_infeasible=3"]
    assert search(args) == 0
    # no candidate is feasible: none counts, and the third infeasible one in a row ends it
    trials = load(root).trials
    assert [t.number for t in trials] == [0, 1, 2]
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


@pytest.mark.parametrize("where", ["/proc/archforge-test/runs", "/dev/null", "allow_list"])
def test_errors_unrelated_to_storage_give_no_resume_advice(
        where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A root that cannot be created, or an allow-list file that is a folder, is a bad
    setting: one ConfigError, not "the study is intact and resumable (after freeing space)"."""
    from archforge.cli import main

    root = tmp_path / "runs"
    if where == "allow_list":
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        (tmp_path / "config" / "archforge" / "allowed_targets").mkdir(parents=True)
    else:
        root = Path(where)
    assert main(["search", *tiny_args(root, "search.n_trials=1")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ConfigError: ") and len(err.splitlines()) == 1, err
    assert "resumable" not in err and "freeing space" not in err
    assert "allowed_targets" in err if where == "allow_list" else where in err


def test_only_a_full_disk_gets_the_storage_advice() -> None:
    import errno

    from archforge.errors import ConfigError
    from archforge.search.runtime.storage_errors import failure_line

    full = OSError(errno.ENOSPC, "No space left on device", "/r/journal.log")
    assert failure_line(full, "archforge search") == (
        "archforge search: No space left on device: /r/journal.log; the study is intact and "
        "resumable: every finished trial is kept, and the same command resumes (a trial that "
        "was running is re-queued) (after freeing space)")
    missing = OSError(errno.ENOENT, "No such file or directory", "/proc/x")
    assert failure_line(missing, "archforge search") == (
        "archforge search: No such file or directory: /proc/x")
    try:
        raise ConfigError("search.root", "cannot create /proc/x") from missing
    except ConfigError as exc:
        assert failure_line(exc, "archforge search") is None  # printed as the ConfigError
