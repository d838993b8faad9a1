"""Worker processes on a shared journal file; Ctrl-C and SIGKILL mid-trial, then resume."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, cli, load, tiny_args

from archforge.cli.search import search


@pytest.mark.slow
@pytest.mark.parametrize(("method", "started"), [
    pytest.param("auto", "forked", marks=pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="fork is only chosen on Linux")),
    ("spawn", "spawned")])
def test_two_local_workers_share_the_journal_file(root: Path, method: str,
                                                   started: str) -> None:
    proc = cli(["search", *tiny_args(root, "search.n_workers=2", "search.n_trials=4",
                                     f"search.start_method={method}")])
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    study = load(root)
    assert_accounted(study, 4, slack=1)
    # the search's own process is worker 0; the child (1) joins once started
    assert {t.user_attrs["worker"] for t in study.trials} <= {0, 1}
    assert {t.user_attrs["worker_pid"] for t in study.trials
            if t.user_attrs["worker"] == 0} == {proc.pid}
    assert "1 worker(s)" not in out and f"2 worker(s) x 1 threads (children {started})" in out


def _wait_for(root: Path, condition: object, timeout: float = 120) -> optuna.Study:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journal = root / "tiny" / "journal.log"
        if journal.exists():
            study = load(root)
            if condition(study.get_trials()):  # type: ignore[operator]
                return study
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


def _mid_trial(min_complete: int) -> object:
    def cond(trials: list) -> bool:
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        return done >= min_complete and any(
            t.state == TrialState.RUNNING and "heartbeat" in t.user_attrs for t in trials)
    return cond


@pytest.mark.slow
def test_ctrl_c_and_sigkill_leave_a_resumable_study(root: Path) -> None:
    # longer trials so that the signals land mid-trial
    args = tiny_args(root, "search.n_trials=3", "search.max_retries=2", "trainer.max_epochs=8",
                     "trainer.limit_train_batches=4")
    proc = cli(["search", *args])
    _wait_for(root, _mid_trial(1))
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    study = load(root)
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(interrupted) == 1 and "interrupted" in interrupted[0].user_attrs["reason"]
    assert interrupted[0].user_attrs["retry"] is True
    completed = {t.number: t.values for t in study.trials if t.state == TrialState.COMPLETE}

    # resume, then kill -9 in the middle of the re-queued trial
    proc = cli(["search", *args])
    _wait_for(root, lambda ts: any(t.state == TrialState.RUNNING and "heartbeat" in t.user_attrs
                                   and "retry_of" in t.user_attrs for t in ts))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    killed = next(t for t in load(root).trials if t.state == TrialState.RUNNING)
    assert killed.user_attrs["retry_of"] == interrupted[0].number

    assert search(args) == 0  # resume: the orphan is failed and re-queued, no trial lost
    study = load(root)
    assert_accounted(study, 3)
    by_number = {t.number: t for t in study.trials}
    assert by_number[killed.number].state == TrialState.FAIL
    assert "worker lost" in by_number[killed.number].user_attrs["reason"]
    for number, values in completed.items():  # nothing completed was lost or re-run
        assert by_number[number].state == TrialState.COMPLETE
        assert by_number[number].values == values
    params = [tuple(sorted(t.params.items())) for t in study.trials
              if t.state == TrialState.COMPLETE]
    assert len(params) == len(set(params))
    retried = [t for t in study.trials if t.user_attrs.get("retry_of") == killed.number]
    assert len(retried) == 1 and retried[0].state.is_finished()


def test_a_trial_its_dead_worker_never_marked_is_failed_and_requeued() -> None:
    """A worker killed between `study.ask()` and marking the trial with its pid: once the
    search's workers are gone, the unmarked trial is FAIL + retry, a marked one is left to
    the pid and heartbeat checks."""
    import datetime

    from optuna.trial import TrialState

    from archforge.search.runtime.workers import _reap_unmarked

    began = datetime.datetime.now()
    study = optuna.create_study()
    lost = study.ask()
    marked = study.ask()
    marked.set_user_attr("worker_pid", 1)
    _reap_unmarked(study, began, "worker 1 (pid 7) exited with status -9")
    lost_t, marked_t = study.get_trials()
    assert lost_t.state == TrialState.FAIL and lost_t.user_attrs["retry"] is True
    assert "worker 1 (pid 7) exited with status -9" in lost_t.user_attrs["reason"]
    assert marked_t.state == TrialState.RUNNING
    assert lost.number == 0
