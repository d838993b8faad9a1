"""`hydra/sweeper=archforge`: archforge's search as a Hydra sweeper, jobs pruned per epoch.

Tiny digits runs (tests/search/tiny.yaml: 2 epochs of 3 batches). A threshold pruner with a
bar no 3-batch run reaches (`lower: 0.99`) prunes every trained trial after its first
epoch, so "pruned before its last epoch" is deterministic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import ROOT, assert_accounted, load, tiny_args

from archforge.cli import main
from archforge.cli.sweep_job import JOB_METRICS, JobAddress
from archforge.search.runtime.study import counted

# every trial pruned after epoch 1, the first one too (no search.min_completed guard)
PRUNE_AT_1 = ("search.pruner={name:threshold,lower:0.99}", "search.min_completed=0")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def sweep_args(root: Path, *extra: str) -> list[str]:
    return ["train", "-m", "hydra/sweeper=archforge", *tiny_args(root),
            f"hydra.sweep.dir={root.parent / 'multirun'}", "progress=false", *extra]


def test_the_plugin_is_listed_among_hydra_sweepers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--hydra-help"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("hydra/sweeper:"))
    assert "archforge" in line and "basic" in line


def test_job_address_override_round_trips_odd_paths() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    address = JobAddress("/tmp/it's here/journal.log", "s-1", 7, None)
    parsed = OverridesParser.create().parse_override(address.override())
    assert parsed.value() == {"storage": "/tmp/it's here/journal.log", "study": "s-1",
                              "trial": 7, "threads": None}


@pytest.mark.slow
def test_pruned_sweep_records_every_state_then_resumes_to_n_trials(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    # max_params 700 makes the wide candidates infeasible: recorded without a job
    limits = "+search.constraints.max_params=700"
    assert main(sweep_args(root, "search.n_trials=3", *PRUNE_AT_1, limits)) == 0
    study = load(root)
    assert_accounted(study, 3)
    trials = study.get_trials()
    first = len(trials)  # 3 trained ones and the infeasible ones, which do not count
    infeasible = [t for t in trials if t.user_attrs.get("infeasible")]
    trained = [t for t in trials if not t.user_attrs.get("infeasible")]
    assert infeasible and trained, [t.user_attrs for t in trials]
    for t in infeasible:
        assert t.state == TrialState.PRUNED and JOB_METRICS not in t.user_attrs
        assert t.user_attrs["params"] > 700
    for t in trained:  # pruned by the pruner inside the job, after epoch 1 of 2
        assert t.state == TrialState.PRUNED, t.user_attrs
        assert t.user_attrs["epochs"] == 1 < 2
        assert t.user_attrs["reason"].startswith("pruned at epoch 1 (val/acc=")
        assert t.intermediate_values.keys() == {1}
        assert t.user_attrs["job_threads"] >= 1
    # resume with another pruner: only the missing trials run, and complete
    assert main(sweep_args(root, "search.n_trials=5", "search.pruner=none", limits)) == 0
    study = load(root)
    assert_accounted(study, 5)
    new = [t for t in study.get_trials()[first:] if not t.user_attrs.get("infeasible")]
    assert new, "the resumed sweep trained nothing"
    for t in new:
        assert t.state == TrialState.COMPLETE and t.user_attrs["epochs"] == 2
        assert t.values[0] == pytest.approx(t.user_attrs["job_metrics"]["val/acc"])
    assert (root / "tiny" / "best_run.yaml").is_file()
    assert main(["report", *tiny_args(root, limits)]) == 0
    # another base config is refused, as `archforge search` refuses it
    assert main(sweep_args(root, "search.n_trials=6", limits, "trainer.max_epochs=3")) == 2


@pytest.mark.slow
def test_archforge_search_and_the_sweeper_share_a_study(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    assert main(["search", *tiny_args(root, "search.n_trials=1", *PRUNE_AT_1)]) == 0
    assert main(sweep_args(root, "search.n_trials=2", *PRUNE_AT_1)) == 0
    study = load(root)
    assert_accounted(study, 2)
    assert [t.user_attrs["epochs"] for t in study.get_trials()] == [1, 1]


def test_a_sweep_override_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(sweep_args(tmp_path / "runs", "seed=0,1")) == 2
    assert "is a sweep; hydra/sweeper=archforge samples the search space" in \
        capsys.readouterr().err


def test_a_sweep_without_search_settings_says_which_are_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "-m", "hydra/sweeper=archforge", f"hydra.sweep.dir={tmp_path / 'm'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "ConfigError: search: which search space? pass search=<name>" in err
    assert len(err.strip().splitlines()) == 1


def _popen(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "archforge.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(study_path: Path, ready: object, proc: subprocess.Popen,
              timeout: float = 240) -> optuna.trial.FrozenTrial:
    """The first trial `ready(trial)` accepts, polling the journal while `proc` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read() if proc.stdout else "")
        if study_path.exists():
            try:
                study = load(study_path.parents[1])
            except KeyError:
                study = None
            for t in study.get_trials() if study else []:
                if ready(t):  # type: ignore[operator]
                    return t
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("no trial started training in time")


@pytest.mark.slow
def test_a_sigkilled_sweep_leaves_no_trial_running_and_resumes(tmp_path: Path) -> None:
    """With the basic launcher the job is the sweeper's own process: killed mid-training,
    its trial is found orphaned, failed and re-queued by the next run."""
    root = tmp_path / "runs"
    long = "trainer.max_epochs=40"
    proc = _popen(sweep_args(root, "search.n_trials=1", "search.pruner=none", long), tmp_path)
    victim = _wait_for(root / "tiny" / "journal.log", lambda t: "curve" in t.user_attrs, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert load(root).get_trials()[victim.number].state == TrialState.RUNNING
    assert main(sweep_args(root, "search.n_trials=1", *PRUNE_AT_1, long)) == 0
    trials = load(root).get_trials()
    assert trials[0].state == TrialState.FAIL
    assert trials[0].user_attrs["reason"].startswith("worker lost: process")
    assert trials[1].user_attrs["retry_of"] == 0 and trials[1].state == TrialState.PRUNED
    assert trials[1].params == trials[0].params
    assert len(counted(trials)) == 1 and all(t.state.is_finished() for t in trials)


submitit = pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
SUBMITIT = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"]


@pytest.mark.slow
def test_submitit_local_runs_two_pruned_jobs_at_once(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    args = sweep_args(root, *SUBMITIT, "search.n_trials=2", "search.n_workers=2", *PRUNE_AT_1)
    assert main(args) == 0
    assert_two_pruned_jobs_at_once(root)


def assert_two_pruned_jobs_at_once(root: Path) -> None:
    """Two trials pruned after epoch 1 of 2, run as one batch of two jobs, each in its own
    process (neither the sweeper's) with half of the cores."""
    study = load(root)
    assert_accounted(study, 2)
    trials = study.get_trials()
    assert {t.state for t in trials} == {TrialState.PRUNED}
    assert [t.user_attrs["epochs"] for t in trials] == [1, 1]
    assert len({t.user_attrs["job_pid"] for t in trials} | {os.getpid()}) == 3
    cores = len(os.sched_getaffinity(0))
    assert [t.user_attrs["job_threads"] for t in trials] == [max(1, cores // 2)] * 2


@pytest.mark.slow
def test_submitit_job_killed_is_recorded_failed(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    args = sweep_args(root, *SUBMITIT, "search.n_trials=1", "search.pruner=none",
                      "search.max_retries=0", "trainer.max_epochs=40")
    proc = _popen(args, tmp_path)
    victim = _wait_for(root / "tiny" / "journal.log",
                       lambda t: "curve" in t.user_attrs and "job_pid" in t.user_attrs, proc)
    os.kill(victim.user_attrs["job_pid"], signal.SIGKILL)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    (trial,) = load(root).get_trials()
    assert trial.state == TrialState.FAIL, out
    assert trial.user_attrs["reason"].startswith("job ended without a result"), trial.user_attrs
    assert trial.user_attrs["retry"] is True


@pytest.mark.slow
def test_the_example_lightning_app_is_pruned(tmp_path: Path) -> None:
    """examples/lightning_app: a plain @hydra.main Lightning script with PruningCallback."""
    script = ROOT / "examples" / "lightning_app" / "train.py"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [sys.executable, str(script), "-m", "hydra.sweeper.search.n_trials=3",
            f"hydra.sweeper.search.root={tmp_path / 'runs'}", "~hydra.sweeper.search.pruner",
            "+hydra.sweeper.search.pruner={name:threshold,lower:0.99}",
            "+hydra.sweeper.search.min_completed=0", "max_epochs=3",
            "limit_train_batches=2", f"hydra.sweep.dir={tmp_path / 'multirun'}"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    study = load(tmp_path / "runs", "digits_mlp")
    assert_accounted(study, 3)
    for t in study.get_trials():
        assert t.state == TrialState.PRUNED and t.user_attrs["epochs"] == 1 < 3
        assert set(t.params) == {"lr", "hidden", "momentum"}
    assert "pruned at epoch 1 (val/acc=" in done.stderr + done.stdout


def test_the_archforge_sweeper_refuses_a_users_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """hydra/sweeper=archforge into a folder archforge did not write: one error, every byte
    as it was, no study opened; a folder the sweeper marked is its own on a resume."""
    mine = tmp_path / "mine"
    (mine / "0").mkdir(parents=True)
    (mine / "0" / "results.txt").write_text("mine\n")
    (mine / "README").write_text("my experiments\n")
    before = sorted((p.relative_to(mine), p.read_bytes() if p.is_file() else b"")
                    for p in mine.rglob("*"))
    root = tmp_path / "runs"
    assert main([*sweep_args(root, "search.n_trials=1"), f"hydra.sweep.dir={mine}"]) == 2
    err = capsys.readouterr().err
    assert f"hydra.sweep.dir: {mine} holds files archforge did not write" in err
    assert sorted((p.relative_to(mine), p.read_bytes() if p.is_file() else b"")
                  for p in mine.rglob("*")) == before
    assert not root.exists()
    own = tmp_path / "own"
    for _ in range(2):  # the second run resumes into the folder the first one marked
        assert main([*sweep_args(root, "search.n_trials=1"), f"hydra.sweep.dir={own}"]) == 0
