"""`logger=mlflow`: a training run in a real local MLflow store, read back with MlflowClient."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from train_helpers import tiny_overrides

from archforge.config.compose import compose
from archforge.config.run import parse_run
from archforge.errors import ConfigError
from archforge.training.fit import train

mlflow = pytest.importorskip("mlflow")


@pytest.mark.slow
def test_a_training_run_is_logged_beside_the_run(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    cfg = compose(tiny_overrides(tmp_path, "logger=[csv,mlflow]", "trainer.limit_train_batches=2",
                                 "optim.lr=0.037"))
    result = train(cfg)
    run_dir = tmp_path / "run"
    client = mlflow.tracking.MlflowClient(f"sqlite:///{run_dir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("archforge")
    assert experiment.artifact_location == (run_dir / "mlartifacts").as_uri()
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    # parameters: the resolved config, flattened
    params = run.data.params
    assert params["optim/lr"] == "0.037"
    assert params["trainer/max_epochs"] == "2"
    assert params["model/stages/1/out_channels"] == "16"
    # per-epoch metrics: one val/acc per epoch, the last one the result's
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert len(history) == 2 == result.epochs
    assert history[-1].value == pytest.approx(result.metrics["val/acc"])
    assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 2
    # artifacts: the resolved config and the best checkpoint's path
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
        "config.yaml", "best_checkpoint.json"}
    local = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
    assert (local / "config.yaml").read_text() == (run_dir / "config.yaml").read_text()
    best = json.loads((local / "best_checkpoint.json").read_text())
    assert best["path"] == str(result.best_checkpoint) == run.data.tags["best_checkpoint"]
    assert best["epoch"] == result.best_epoch
    assert best["metrics"]["val/acc"] == pytest.approx(result.best_metrics["val/acc"])
    assert (run_dir / "csv" / "metrics.csv").is_file()  # the other logger still writes


def test_missing_mlflow_is_one_error_naming_the_extra(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails
    cfg = compose(tiny_overrides(tmp_path, "logger=mlflow"))
    with pytest.raises(ConfigError) as info:
        parse_run(cfg)
    assert info.value.path == "logger"
    assert "pip install 'archforge[mlflow]'" in str(info.value)
