"""A full disk (ENOSPC) during a search, then one immediate resume: exactly n_trials.

The failure is injected (deterministic and fast): in the trial's training, or in the
journal's writes from the k-th on, so that it lands at every step of a trial's life -
creation, the first write after it, the sampled parameters, the final state.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, load, tiny_args

from archforge.cli.search import search
from archforge.search.runtime import study as study_module
from archforge.search.runtime.journal import SafeJournalFileBackend
from archforge.search.strategy import training as training_module

N_TRIALS = 3
FULL: list[dict[str, Any]] = []  # a write refused for want of space


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


def _full(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _resume_and_check(root: Path, capsys: pytest.CaptureFixture) -> None:
    """Resume at once (no wait past search.heartbeat_grace, 60 s by default): the study
    ends with exactly N_TRIALS complete trials and none running or waiting."""
    study_module._storages.clear()  # the resume reads the journal afresh, as a new process
    capsys.readouterr()
    assert search(tiny_args(root, f"search.n_trials={N_TRIALS}")) == 0
    study_module._storages.clear()
    study = load(root)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == N_TRIALS, states
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states, states
    assert_accounted(study, N_TRIALS)


def test_a_trial_whose_training_hits_enospc_is_requeued(
        root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    calls: list[Path] = []

    def fills_the_disk(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
        calls.append(run_dir)
        if len(calls) == 2:  # the second trial's checkpoint does not fit
            raise RuntimeError("enforce fail at inline_container.cc") from _full(
                run_dir / "checkpoints" / "last.ckpt")
        return _fake_train(cfg, callbacks=callbacks, run_dir=run_dir)

    monkeypatch.setattr(training_module, "run_training", fills_the_disk)
    assert search(tiny_args(root, f"search.n_trials={N_TRIALS}")) == 1
    err = capsys.readouterr().err
    assert f"No space left on device: {calls[1] / 'checkpoints' / 'last.ckpt'}" in err
    assert "the study is intact and resumable" in err and "Traceback" not in err
    study_module._storages.clear()
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[1].user_attrs["retry"] is True  # as the message promises: re-queued
    assert trials[1].user_attrs["reason"].startswith("disk full (No space left on device")
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    _resume_and_check(root, capsys)
    rerun = [t for t in load(root).trials if t.user_attrs.get("retry_of") == 1]
    assert len(rerun) == 1 and rerun[0].state == TrialState.COMPLETE
    assert rerun[0].params == trials[1].params


SET_TRIAL_STATE = 6  # the op code of Optuna's journal record that sets a trial's state


def _completes(logs: list[dict[str, Any]], trial_id: int) -> bool:
    return any(log.get("op_code") == SET_TRIAL_STATE
               and log.get("trial_id") == trial_id and log.get("state") == TrialState.COMPLETE
               for log in logs)


# where, in the second trial's writes, the disk fills: its creation, the first write after
# it (the trial is RUNNING: the heartbeat), a sampled parameter, an attribute, and the
# write of its final state ("final")
@pytest.mark.parametrize("offset", [0, 1, 2, 12, "final"])
def test_a_trial_cut_by_a_full_journal_disk_is_reclaimed_at_once(
        root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        offset: int | str) -> None:
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    real = SafeJournalFileBackend.append_logs
    writes: list[list[dict[str, Any]]] = []
    first_done: list[int] = []  # the write that completed the first trial

    def append_logs(self: SafeJournalFileBackend, logs: list[dict[str, Any]]) -> None:
        full = (bool(first_done) and _completes(logs, 1) if offset == "final"
                else bool(first_done) and len(writes) >= first_done[0] + int(offset))
        if full or (writes and writes[-1] is FULL):
            writes.append(FULL)
            raise _full(self.path)  # what the real append leaves: the file as it was
        writes.append(logs)
        real(self, logs)
        if not first_done and _completes(logs, 0):
            first_done.append(len(writes))

    monkeypatch.setattr(SafeJournalFileBackend, "append_logs", append_logs)
    assert search(tiny_args(root, f"search.n_trials={N_TRIALS}")) == 1
    err = capsys.readouterr().err
    assert f"No space left on device: {root / 'tiny' / 'journal.log'}" in err
    monkeypatch.setattr(SafeJournalFileBackend, "append_logs", real)
    study_module._storages.clear()
    before = load(root).trials
    assert before[0].state == TrialState.COMPLETE
    assert len(before) == (1 if offset == 0 else 2)  # at 0, the second trial's creation failed
    for cut in before[1:]:
        assert cut.state in (TrialState.WAITING, TrialState.RUNNING)
        assert cut.user_attrs["worker_pid"] == os.getpid()  # marked from its creation on
    _resume_and_check(root, capsys)
