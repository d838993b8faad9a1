"""`archforge search ... logger=mlflow`: one parent run per study, each trial a nested child
run, in a real local MLflow store read back with MlflowClient."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from search_helpers import load, tiny_args

from archforge.cli.search import search
from archforge.search.mlflow_study import PARENT_ATTR, StudyRun, mlflow_name, trial_state

mlflow = pytest.importorskip("mlflow")


def _client(uri: str) -> mlflow.tracking.MlflowClient:
    return mlflow.tracking.MlflowClient(uri)


@pytest.mark.slow
def test_a_search_logs_a_parent_run_and_a_child_run_per_trial(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    args = ["trainer.max_epochs=1", "logger=mlflow"]
    assert search(tiny_args(root, "search.n_trials=2", *args)) == 0
    study = load(root)
    uri = f"sqlite:///{root / 'tiny' / 'mlflow.db'}"
    assert study.user_attrs[PARENT_ATTR]["uri"] == uri
    parent_id = study.user_attrs[PARENT_ATTR]["run_id"]
    client = _client(uri)
    experiment = client.get_experiment_by_name("archforge").experiment_id
    runs = client.search_runs([experiment])
    [parent] = [r for r in runs if r.info.run_id == parent_id]
    children = [r for r in runs if r.info.run_id != parent_id]
    assert parent.info.run_name == "tiny" and parent.info.status == "FINISHED"
    assert parent.data.params["search/study_name"] == "tiny"
    assert parent.data.metrics["trials/complete"] == 2
    assert parent.data.metrics["best/val/acc"] == pytest.approx(study.best_value)
    assert "best_run.yaml" in {a.path for a in client.list_artifacts(parent_id)}
    assert sorted(int(r.data.tags["archforge.trial"]) for r in children) == [0, 1]
    for child in children:
        t = study.trials[int(child.data.tags["archforge.trial"])]
        assert child.data.tags["mlflow.parentRunId"] == parent_id
        assert child.data.tags["state"] == "complete" and child.info.status == "FINISHED"
        assert child.data.params == {mlflow_name(k): str(v) for k, v in t.params.items()}
        history = client.get_metric_history(child.info.run_id, "val/acc")
        assert [(m.step, m.value) for m in history] == sorted(t.intermediate_values.items())
        assert child.data.metrics["objective/val/acc"] == pytest.approx(t.value)
        assert child.data.tags["run_dir"] == t.user_attrs["run_dir"]
        # the trial trained without an MLflow run of its own
        assert not (Path(t.user_attrs["run_dir"]) / "mlflow.db").exists()
    # a resumed search logs under the same parent and logs no trial twice
    assert search(tiny_args(root, "search.n_trials=3", *args)) == 0
    runs = client.search_runs([experiment])
    assert len(runs) == 4
    trials = [int(r.data.tags["archforge.trial"]) for r in runs if r.info.run_id != parent_id]
    assert sorted(trials) == [0, 1, 2]
    assert all(r.data.tags.get("mlflow.parentRunId") == parent_id
               for r in runs if r.info.run_id != parent_id)


def _trial(number: int, state: TrialState, **attrs: object) -> object:
    start = datetime(2026, 1, 1, 12, 0, 0)
    trial = create_trial(
        state=state, value=0.5 if state == TrialState.COMPLETE else None,
        params={"model.width": 0.75}, distributions={"model.width": FloatDistribution(0.5, 1)},
        user_attrs=dict(attrs), intermediate_values={1: 0.25, 2: 0.5})
    trial.number = number
    trial.datetime_start, trial.datetime_complete = start, start + timedelta(seconds=number + 1)
    return trial


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """One SQLite store for the state cases (creating its tables takes seconds)."""
    folder = tmp_path_factory.mktemp("mlflow")
    client = _client(f"sqlite:///{folder / 'mlflow.db'}")
    return client, client.create_experiment("e", artifact_location=(folder / "a").as_uri())


@pytest.mark.parametrize(("state", "attrs", "tag", "status"), [
    (TrialState.COMPLETE, {}, "complete", "FINISHED"),
    (TrialState.PRUNED, {"reason": "pruned at epoch 2"}, "pruned", "FINISHED"),
    (TrialState.PRUNED, {"infeasible": True, "reason": "params 9 > max_params 1"},
     "infeasible", "FINISHED"),
    (TrialState.FAIL, {"reason": "RuntimeError: boom"}, "failed", "FAILED"),
])
def test_every_final_state_is_a_tag_of_the_child_run(
        store: tuple, state: TrialState, attrs: dict, tag: str, status: str) -> None:
    client, experiment = store
    parent = client.create_run(experiment).info.run_id
    trial = _trial(3, state, **attrs)
    assert trial_state(trial) == tag  # type: ignore[arg-type]
    logged = StudyRun(client, parent, experiment, "val/acc", ["val/acc"])
    run = client.get_run(logged.log_trial(trial))  # type: ignore[arg-type]
    assert run.data.tags["state"] == tag and run.info.status == status
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags.get("reason") == attrs.get("reason")
    assert run.info.end_time - run.info.start_time == 4000
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.25), (2, 0.5)]
    assert ("objective/val/acc" in run.data.metrics) == (tag == "complete")
    assert StudyRun(client, parent, experiment, "val/acc", ["val/acc"]).logged == {3}


def test_names_mlflow_refuses_are_mended() -> None:
    assert mlflow_name("model.stages.*.depth") == "model.stages._.depth"
    assert mlflow_name("val/acc") == "val/acc"
