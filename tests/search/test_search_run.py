"""Searches that train (tiny models, digits, 2 epochs): resume, export, report, faults, MO."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from optuna.trial import TrialState
from search_helpers import load, tiny_args

import archforge
from archforge.cli.search import report, search
from archforge.config.compose import compose
from archforge.search.runtime.study import counted
from archforge.search.strategy import training as training_module


@pytest.mark.slow
def test_search_resumes_exports_and_reports(root: Path, capsys: pytest.CaptureFixture) -> None:
    assert search(tiny_args(root, "search.n_trials=2")) == 0
    first = {t.number: t.values for t in load(root).trials}
    assert len(first) == 2
    # n_trials is the total to reach: one more trial, the first two untouched
    assert search(tiny_args(root, "search.n_trials=3")) == 0
    study = load(root)
    assert len(study.trials) == 3 and len(counted(study.trials)) == 3
    assert {t.number: t.values for t in study.trials if t.number < 2} == first
    assert search(tiny_args(root, "search.n_trials=3")) == 0  # nothing left to do
    assert len(load(root).trials) == 3

    best = study.best_trial
    assert best.user_attrs["model_config"]["block"] in ("basic", "bottleneck")
    exported = root / "tiny" / "best_model.yaml"
    assert archforge.summary(exported).total_params == best.user_attrs["params"]
    # `archforge train model=<file>` rebuilds it: same parameter count, and it trains
    from archforge.training.fit import train

    cfg = compose([f"model={exported}", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                   "trainer.limit_val_batches=1"], "config")
    result = train(cfg, run_dir=root / "retrain", progress=False, checkpoints=False)
    net = archforge.build(result.model_config)
    assert sum(p.numel() for p in net.parameters()) == best.user_attrs["params"]

    assert report(tiny_args(root)) == 0
    out = root / "tiny" / "report"
    for name in ("optimization_history", "intermediate_values", "param_importances"):
        assert (out / f"{name}.png").stat().st_size > 0
        assert (out / f"{name}.html").stat().st_size > 0
    assert "top 3 of 3 completed (3 trials: 3 complete)" in capsys.readouterr().out


def _fake_train(fail: dict[int, BaseException]) -> Any:
    def train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
        number = callbacks[0].trial.number
        if number in fail:
            raise fail[number]
        return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir,
                               epochs=1)
    return train


def test_faults_are_recorded_and_the_study_goes_on(root: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_train({0: RuntimeError("boom in trial 0"),
                        1: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate")})
    monkeypatch.setattr(training_module, "run_training", fake)
    assert search(tiny_args(root, "search.n_trials=3")) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[0].user_attrs["reason"] == "RuntimeError: boom in trial 0"
    assert trials[0].user_attrs["traceback"].strip().endswith("boom in trial 0")
    assert trials[1].user_attrs["reason"].startswith("out of memory")


@pytest.mark.slow
def test_non_finite_loss_is_pruned_with_its_reason(root: Path) -> None:
    assert search(tiny_args(root, "search.n_trials=1", "optim.lr=10000",
                            "optim.warmup_epochs=0")) == 0
    (trial,) = load(root).trials
    assert trial.state == TrialState.PRUNED
    assert "non-finite" in trial.user_attrs["reason"]


@pytest.mark.slow
def test_the_final_epoch_is_never_pruned(root: Path) -> None:
    # A threshold no accuracy reaches prunes every trial at its first chance, but never after
    # the last epoch has been paid for: a fully trained candidate completes.
    always = "search.pruner={name: threshold, lower: 2.0}"
    first = "search.min_completed=0"  # prune from the first trial on
    assert search(tiny_args(root, "search.n_trials=1", always, first)) == 0
    assert search(tiny_args(root, "search.n_trials=1", always, first,
                            "search.study_name=one_epoch", "trainer.max_epochs=1")) == 0
    (two,) = load(root).trials
    (one,) = load(root, "one_epoch").trials
    assert two.state == TrialState.PRUNED and two.user_attrs["epochs"] == 1
    assert one.state == TrialState.COMPLETE and one.user_attrs["epochs"] == 1


@pytest.mark.slow
def test_multi_objective_prunes_on_the_accuracy_curve(root: Path) -> None:
    args = tiny_args(root, "search.n_trials=5", "search.study_name=mo",
                     "search.objectives=[{metric: val/acc},{metric: params}]",
                     "search.sampler=random",
                     "search.pruner={name: median, n_startup_trials: 1, n_warmup_steps: 0}")
    assert search(args) == 0
    study = load(root, "mo")
    assert len(study.directions) == 2
    trials = study.trials
    assert len(counted(trials)) == 5
    for t in trials:
        if t.state == TrialState.COMPLETE:
            assert sorted(t.intermediate_values) == [1, 2]
            assert t.values[1] == t.user_attrs["params"]
        if t.state == TrialState.PRUNED:
            assert "median rule" in t.user_attrs["reason"]
    front = sorted((root / "mo" / "pareto").glob("trial_[0-9][0-9][0-9][0-9][0-9].yaml"))
    assert len(front) == len(study.best_trials) >= 1
    for path in front:
        number = int(path.stem.split("_")[1])
        assert archforge.summary(path).total_params == trials[number].user_attrs["params"]
    assert report(args) == 0
    assert (root / "mo" / "report" / "pareto_front.png").exists()


@pytest.mark.slow
def test_pruning_with_the_ddp_preset(root: Path) -> None:
    """Trials train with 2 CPU processes (ddp -> ddp_spawn inside a search); rank 0 reports
    from its spawned process and the pruning decision stops both ranks."""
    args = tiny_args(root, "search.n_trials=2", "trainer=ddp", "trainer.accelerator=cpu",
                     "trainer.devices=2", "trainer.max_epochs=3",
                     "search.pruner={name: threshold, lower: 0.99}",
                     "search.min_completed=0")  # prune from the first trial on
    assert search(args) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    for t in trials:
        assert t.user_attrs["strategy"] == "ddp_spawn"
        assert sorted(t.intermediate_values) == [1]  # stopped after the first epoch
        assert t.user_attrs["reason"].startswith("pruned at epoch 1")
