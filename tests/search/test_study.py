"""Study bookkeeping without training: fingerprints, orphans, retries, constraints, MO rule."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import TINY, tiny_args

from archforge.errors import ConfigError
from archforge.search.runtime.optuna_private import trial_id, write_intermediate
from archforge.search.runtime.prepare import prepare
from archforge.search.runtime.study import HOST, counted, reap_orphans, requeue_failed
from archforge.search.runtime.workers import should_stop
from archforge.search.strategy import training as training_module
from archforge.search.trial.mo_pruning import CurveMedianRule
from archforge.search.trial.objective import objective


@pytest.fixture
def never_train(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an infeasible candidate must not train")

    monkeypatch.setattr(training_module, "run_training", refuse)


def test_fingerprint_refuses_other_space_or_base(root: Path, tmp_path: Path) -> None:
    prepare(tiny_args(root)).study()
    prepare(tiny_args(root, "search.n_trials=9", "search.sampler=tpe")).study()  # volatile
    other = tmp_path / "other_space.yaml"
    other.write_text(TINY.read_text().replace("high: 1.0}", "high: 0.9}"))
    with pytest.raises(ConfigError) as info:
        prepare([f"search={other}", f"search.root={root}"]).study()
    assert info.value.path == "search.study_name"
    assert "search.space.model.width" in str(info.value)
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        prepare(tiny_args(root, "optim.lr=0.3")).study()
    prepare(tiny_args(root, "optim.lr=0.3", "search.study_name=other")).study()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_orphans_are_failed_requeued_and_not_counted(root: Path) -> None:
    prep = prepare(tiny_args(root))
    study = prep.study()
    trial = study.ask()
    prep.space.sample(trial)
    trial.set_user_attr("worker_host", HOST)
    trial.set_user_attr("worker_pid", _dead_pid())
    trial.set_user_attr("heartbeat", time.time())
    stale = study.ask()
    prep.space.sample(stale)
    stale.set_user_attr("worker_host", "another-machine")
    stale.set_user_attr("worker_pid", 1)
    stale.set_user_attr("heartbeat", time.time() - 3600)
    alive = study.ask()
    alive.set_user_attr("worker_host", "another-machine")
    alive.set_user_attr("heartbeat", time.time())

    assert sorted(reap_orphans(study, grace=30)) == [0, 1]
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.RUNNING]
    assert "process" in trials[0].user_attrs["reason"]
    assert "heartbeat" in trials[1].user_attrs["reason"]
    assert sorted(requeue_failed(study, max_retries=1)) == [0, 1]
    assert requeue_failed(study, max_retries=1) == []  # once only
    trials = study.get_trials()
    assert counted(trials) == []
    retry = study.ask()
    assert retry.params == {} and retry.user_attrs["retry_of"] == 0
    chosen, _ = prep.space.sample(retry)
    assert chosen.items() >= trials[0].params.items()


def test_should_stop_counts_finished_and_running(root: Path) -> None:
    prep = prepare(tiny_args(root, "search.n_trials=2"))
    study = prep.study()
    assert not should_stop(study, 2)
    t = study.ask()
    study.tell(t, state=TrialState.PRUNED)
    study.ask()  # running elsewhere
    assert should_stop(study, 2)


def test_infeasible_candidates_cost_well_under_a_second(root: Path, never_train: None) -> None:
    prep = prepare(tiny_args(root, "search.constraints.max_params=100"))
    study = prep.study()
    ctx = prep.context()
    objective(ctx, study.ask())  # warm caches
    start = time.perf_counter()
    out = objective(ctx, study.ask())
    assert time.perf_counter() - start < 1.0
    assert out.state == TrialState.PRUNED and out.attrs["infeasible"]
    assert out.reason is not None and "max_params" in out.reason


def test_invalid_shortcut_is_an_infeasible_candidate(root: Path, never_train: None) -> None:
    prep = prepare(["search=resnet_cifar", f"search.root={root}"])
    study = prep.study()
    study.enqueue_trial({"model.block": "basic", "model.shortcut": "identity",
                         "model.width": 1.0, "model.stages.0.depth": 1,
                         "model.stages.1.depth": 1, "model.stages.2.depth": 1})
    out = objective(prep.context(), study.ask())
    assert out.state == TrialState.PRUNED and out.attrs["infeasible"]
    assert "identity" in (out.reason or "")


def test_curve_median_rule() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for curve in ([0.5, 0.8], [0.6, 0.9], [0.4, 0.7]):
        t = study.ask()
        for step, v in enumerate(curve, start=1):
            write_intermediate(study, trial_id(t), step, v)
        study.tell(t, [curve[-1], 100])
    rule = CurveMedianRule(n_startup_trials=3, n_warmup_steps=0)
    running = study.ask()
    assert rule.should_prune(study, running.number, 1, [0.3])
    assert not rule.should_prune(study, running.number, 1, [0.55])
    assert not CurveMedianRule(n_startup_trials=4).should_prune(study, 0, 2, [0.0, 0.0])
    assert CurveMedianRule.from_pruner("none", maximize=True) is None
    assert CurveMedianRule.from_pruner({"name": "median", "n_warmup_steps": 3},
                                       True).n_warmup_steps == 3


def test_latency_constraint_measures_before_training(root: Path, never_train: None) -> None:
    prep = prepare(tiny_args(root, "search.constraints.max_latency_ms=0.000001"))
    study = prep.study()
    out = objective(prep.context(), study.ask())
    assert out.state == TrialState.PRUNED and out.attrs["infeasible"]
    assert "max_latency_ms" in (out.reason or "")
    assert study.trials[0].user_attrs["latency_ms"] > 0


def test_sqlite_url_and_grid_errors(root: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = prepare(tiny_args(root, f"search.storage={url}")).study()
    assert optuna.load_study(study_name="tiny", storage=url).study_name == study.study_name
    with pytest.raises(ConfigError) as info:  # a float range has no grid
        prepare(tiny_args(root, "search.sampler=grid", "search.study_name=g")).study()
    assert info.value.path == "search.space.model.width"
