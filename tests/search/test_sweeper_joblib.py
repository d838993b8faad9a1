"""`hydra/sweeper=archforge` through Hydra's joblib launcher: a batch of trials runs as
concurrent joblib worker processes (loky), each reporting per epoch to the study and pruned
from it, with the cores split between the jobs running at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_helpers import assert_accounted, load
from test_sweeper import PRUNE_AT_1, assert_two_pruned_jobs_at_once, sweep_args

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
    assert_two_pruned_jobs_at_once(root)
    # a resumed sweep adds trials up to the new n_trials
    assert main(sweep_args(root, *joblib, "search.n_trials=3", "search.n_workers=2",
                           *PRUNE_AT_1)) == 0
    assert_accounted(load(root), 3)
