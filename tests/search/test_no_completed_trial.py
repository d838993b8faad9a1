"""A search that completes no trial: it says so and why, the retrain command says why it
cannot run, and `report` draws no blank plot and prints no Optuna warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_helpers import tiny_args

from archforge.cli import main

# every candidate of tests/search/tiny.yaml has hundreds of parameters: none is feasible
# (infeasible candidates do not count toward n_trials: the second in a row ends the search)
INFEASIBLE = ["search.n_trials=2", "+search.constraints.max_params=10", "search.max_infeasible=2"]


def test_search_report_and_retrain_after_no_completed_trial(
    root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", *tiny_args(root, *INFEASIBLE)]) == 0
    out, err = capfd.readouterr()
    # the result on stdout: no empty table, the reason once with a count
    assert out.splitlines()[0] == "study tiny: no completed trial (2 trials: 2 infeasible)"
    assert "2 x constraint max_params (first: " in out and "┏" not in out
    assert "nothing to retrain: no trial completed, so no best_run.yaml was written" in out
    assert "archforge search study tiny" in err and "archforge search study" not in out
    assert ("archforge search: stopped after 2 infeasible candidates in a row "
            "(search.max_infeasible=2), 0 of 2 trials trained") in err

    study_dir = root / "tiny"
    assert main(["train", "-cd", str(study_dir), "-cn", "best_run"]) == 2
    err = capfd.readouterr().err
    assert err.startswith(f"ConfigError: --config-name: no config {study_dir}/best_run.yaml; "
                          "archforge search writes it when it ends with a completed trial")
    assert err.count("\n") == 1

    assert main(["report", *tiny_args(root)]) == 0
    out, err = capfd.readouterr()
    assert "no completed trial (2 trials: 2 infeasible)" in out
    assert "skipped optimization_history: no completed trial yet" in out
    assert "skipped intermediate_values: no trial reported a validation epoch" in out
    assert "[W " not in out + err and "There are no complete trials" not in out + err
    assert not list((study_dir / "report").glob("*.png"))
