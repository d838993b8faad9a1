"""`hydra/sweeper=archforge` through Hydra's joblib launcher: a batch of trials runs as
concurrent joblib worker processes (loky), each reporting per epoch to the study and pruned
from it, with the cores split between the jobs running at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, load
from test_sweeper import PRUNE_AT_1, sweep_args

from archforge.cli import main

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_joblib_runs_two_pruned_jobs_at_once_then_resumes(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    args = sweep_args(root, *joblib, "search.n_trials=2", "search.n_workers=2", *PRUNE_AT_1)
    assert main(args) == 0
    study = load(root)
    assert_accounted(study, 2)
    trials = study.get_trials()
    assert {t.state for t in trials} == {TrialState.PRUNED}
    assert [t.user_attrs["epochs"] for t in trials] == [1, 1]  # of trainer.max_epochs=2
    # two joblib worker processes, neither the sweeper's own, each with half of the cores
    pids = {t.user_attrs["job_pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() not in pids
    cores = len(os.sched_getaffinity(0))
    assert [t.user_attrs["job_threads"] for t in trials] == [max(1, cores // 2)] * 2
    # a resumed sweep adds trials up to the new n_trials
    assert main(sweep_args(root, *joblib, "search.n_trials=3", "search.n_workers=2",
                           *PRUNE_AT_1)) == 0
    assert_accounted(load(root), 3)
