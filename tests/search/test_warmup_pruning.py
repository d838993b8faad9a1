"""No pruning decision during the optimizer's warm-up: every epoch is reported, the pruner
is first asked after the last warm-up epoch, and a successive-halving rung inside the
warm-up is judged at the first epoch after it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import FrozenTrial, TrialState
from search_helpers import load, tiny_args

from archforge.cli import main
from archforge.config.sections import OptimConfig
from archforge.search.runtime.optuna_private import trial_id
from archforge.search.trial.callback import TrialCallback, asks_pruner
from archforge.search.trial.mo_pruning import CurveMedianRule
from archforge.training.optim import warmup_epochs


class PruneAll(optuna.pruners.BasePruner):
    """Prunes whenever asked, and remembers the steps it was asked at."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        self.asked.append(trial.last_step or 0)
        return True


def _trainer(epoch: int, value: float, max_epochs: int = 6) -> Any:
    return SimpleNamespace(
        sanity_checking=False, current_epoch=epoch, max_epochs=max_epochs,
        is_global_zero=True, should_stop=False,
        callback_metrics={"val/acc": torch.tensor(value)},
        strategy=SimpleNamespace(broadcast=lambda obj, src=0: obj))


def _epochs(callback: TrialCallback, curve: list[float], max_epochs: int = 6) -> int | None:
    """Run the callback through `curve`; the epoch it stopped at, or None."""
    for epoch, value in enumerate(curve):
        trainer = _trainer(epoch, value, max_epochs)
        callback.on_validation_end(trainer, None)  # type: ignore[arg-type]
        if trainer.should_stop:
            return epoch + 1
    return None


def test_a_two_epoch_warm_up_is_reported_but_never_judged() -> None:
    pruner = PruneAll()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    callback = TrialCallback(trial, "memory", warmup=2)
    assert _epochs(callback, [0.10, 0.12, 0.30, 0.40]) == 3
    assert pruner.asked == [3]
    assert callback.stop_reason == "pruned at epoch 3 (val/acc=0.3000)"
    assert study.trials[0].intermediate_values == pytest.approx({1: 0.10, 2: 0.12, 3: 0.30})


def test_the_warm_up_is_read_from_the_optimizer_config() -> None:
    def read(module: object) -> int | None:
        trial = optuna.create_study(pruner=PruneAll()).ask()
        callback = TrialCallback(trial, "memory")
        callback.on_fit_start(None, module)  # type: ignore[arg-type]
        return callback.warmup

    assert read(SimpleNamespace(optim=OptimConfig(warmup_epochs=2.0))) == 2
    assert read(SimpleNamespace(optim=OptimConfig(warmup_epochs=0.5))) == 1  # epoch 1 warms up
    assert read(SimpleNamespace(optim=OptimConfig(warmup_epochs=0.0))) == 0
    assert read(SimpleNamespace()) == 0  # another application's module: no warm-up known
    assert warmup_epochs(OptimConfig(warmup_epochs=1.0)) == 1  # the sgd preset
    assert [asks_pruner(s, 6, 1) for s in range(1, 7)] == [False] + [True] * 4 + [False]


def test_a_successive_halving_rung_inside_the_warm_up_is_judged_after_it() -> None:
    # min_resource 1, factor 3: rungs at epochs 1 and 3. With a 2-epoch warm-up, rung 0 is
    # recorded at epoch 3 with epoch 3's value, never with the warm-up's.
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3,
                                                    bootstrap_count=0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    callback = TrialCallback(trial, "memory", warmup=2)
    _epochs(callback, [0.11, 0.22], max_epochs=6)
    assert not any(k.startswith("completed_rung") for k in study.trials[0].system_attrs)
    _epochs_from(callback, 2, [0.33])
    rungs = {k: v for k, v in study.trials[0].system_attrs.items()
             if k.startswith("completed_rung")}
    assert rungs == pytest.approx({"completed_rung_0": 0.33, "completed_rung_1": 0.33})


def _epochs_from(callback: TrialCallback, start: int, curve: list[float]) -> None:
    for epoch, value in enumerate(curve, start=start):
        callback.on_validation_end(_trainer(epoch, value), None)  # type: ignore[arg-type]


def test_the_multi_objective_rule_waits_for_the_warm_up_too() -> None:
    class Rule(CurveMedianRule):
        def should_prune(self, study: optuna.Study, number: int, step: int,
                         curve: list[float]) -> bool:
            asked.append(step)
            return True

    asked: list[int] = []
    study = optuna.create_study(directions=["maximize", "minimize"])
    callback = TrialCallback(study.ask(), "memory", multi_rule=Rule(n_warmup_steps=0),
                             multi_objective=True, warmup=2)
    assert _epochs(callback, [0.1, 0.2, 0.3]) == 3 and asked == [3]


@pytest.mark.slow
def test_a_real_search_prunes_nothing_during_a_two_epoch_warm_up(root: Path) -> None:
    # A threshold no accuracy reaches prunes every trial the first time it is asked.
    args = tiny_args(root, "search.n_trials=1", "search.min_completed=0",
                     "search.pruner={name: threshold, lower: 2.0}", "trainer.max_epochs=4",
                     "optim.warmup_epochs=2")
    assert main(["search", *args]) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.PRUNED]
    assert all(t.user_attrs["stop_reason"].startswith("pruned at epoch 3 ") for t in trials)
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in trials)


def test_a_sweeper_job_waits_for_its_module_s_warm_up() -> None:
    from archforge.cli.sweep_job import PruningCallback

    trial = optuna.create_study(pruner=PruneAll()).ask()
    job = PruningCallback(set_threads=False)
    job.inner = TrialCallback.reopened("memory", trial.study.study_name, trial_id(trial),
                                       trial.number, PruneAll(), "val/acc")
    module = SimpleNamespace(optim=OptimConfig(warmup_epochs=2.0))
    job.on_fit_start(None, module)  # type: ignore[arg-type]
    assert job.inner.warmup == 2
