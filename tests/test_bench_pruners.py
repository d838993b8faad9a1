"""bench/bench_pruners.py decides by issue #29's rule: the default pruner must keep the
unpruned winner within 0.2 points in at least 4 of 5 seeds, with the fewest epochs among
the pruners that do; and its replay asks the pruner only when the training callback does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_pruners", BENCH / "bench_pruners.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _seed(bench: ModuleType, best: dict[str, float], epochs: dict[str, int]) -> dict[str, Any]:
    return {label: {"best_acc": best.get(label, 0.90), "epochs": epochs.get(label, 96)}
            for label in bench.ARMS}


def test_the_default_meets_the_rule_only_with_the_fewest_epochs(bench: ModuleType) -> None:
    default, rival = bench.DEFAULT, "median"
    assert default == "hyperband b1"
    # default: within 0.2 points in 4 of 5 seeds (0.1 and 0.2 points lost), 50 epochs each;
    # median keeps it in all 5 with 60; the others keep it too but spend 96
    per_seed = {s: _seed(bench, {default: 0.90 - 0.001 * (s % 3)}, {default: 50, rival: 60,
                                                                        "none": 96})
                for s in range(4)}
    per_seed[4] = _seed(bench, {default: 0.88}, {default: 50, rival: 60, "none": 96})
    out = bench.summarize(per_seed, 0.2)
    assert out["need"] == 4 and out["arms"][default]["kept"] == 4
    assert out["arms"][default]["worst_gap"] == pytest.approx(2.0)
    assert out["arms"][default]["vs_none"] == pytest.approx(250 / 480)
    assert out["fewest_epochs_that_keep"] == default and out["default_meets_rule"]
    # one more lost seed: the default no longer qualifies, median is the rule's choice
    per_seed[3] = _seed(bench, {default: 0.85}, {default: 50, rival: 60, "none": 96})
    out = bench.summarize(per_seed, 0.2)
    assert out["arms"][default]["kept"] == 3
    assert out["fewest_epochs_that_keep"] == rival and not out["default_meets_rule"]


def test_the_replay_judges_nothing_during_the_warm_up(bench: ModuleType) -> None:
    # Five finished trials whose warm-up epochs rank them backwards: asked at epoch 1, a
    # pruner stops the eventual winner; the replay, like the callback, first asks at epoch 3.
    curves = [[0.50 - 0.1 * i, 0.50 - 0.1 * i, 0.5 + 0.05 * i, 0.6 + 0.05 * i]
              for i in range(5)]
    trials = [optuna.trial.create_trial(state=TrialState.COMPLETE, value=c[-1],
                                        user_attrs={"curve": c}) for c in curves]
    spec = {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0}
    gated = bench.replay(trials, spec, 4, warmup=2)
    early = bench.replay(trials, spec, 4, warmup=0)
    assert gated["best_acc"] == pytest.approx(0.80) and gated["pruned"] == 0
    assert early["best_acc"] < 0.80 and early["pruned"] >= 1
