"""`logger=mlflow`: a training run in MLflow, through Lightning's `MLFlowLogger`.

Where it goes: the store `MLFLOW_TRACKING_URI` names when it is set (a tracking server, a
database), else a SQLite store beside the run, `<run_dir>/mlflow.db`, with the artifacts in
`<run_dir>/mlartifacts` - no server needed; `mlflow ui --backend-store-uri
sqlite:///<run_dir>/mlflow.db` shows it. SQLite rather than MLflow's file store (`./mlruns`):
MLflow made SQLite its default in 3.7 and deprecated the file store (mlflow/mlflow#18534).
The experiment is `MLFLOW_EXPERIMENT_NAME`, else "archforge".

What the run holds: the resolved config, flattened (`optim/lr`, `model/stages/0/depth`), as
parameters (Lightning cuts a value at 250 characters); every metric the module logs, per
validation epoch (`val/acc`, `val/loss`, `train/acc`, `epoch`; `train/loss` every
`trainer.log_every_n_steps` steps); and two artifacts, `config.yaml` (the resolved config)
and `best_checkpoint.json` (best.ckpt's path, epoch and metrics; the path is also the tag
`best_checkpoint`). The checkpoint file itself stays in the run directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, MLFlowLogger

from archforge.config.extras import MLFLOW_EXTRA, installed
from archforge.errors import ConfigError

DEFAULT_EXPERIMENT = "archforge"


def require_mlflow(key: str = "logger") -> None:
    if not installed("mlflow"):
        raise ConfigError(key, f"logger=mlflow needs MLflow, an optional extra: {MLFLOW_EXTRA}")


def tracking_target(folder: Path) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment): `MLFLOW_TRACKING_URI` and its
    own artifact root, or a SQLite store and an artifact folder in `folder`."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri, None
    folder = folder.resolve()
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlartifacts").as_uri()


def experiment_name() -> str:
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def mlflow_logger(folder: Path, resolved: Mapping[str, Any]) -> MLFlowLogger:
    """Lightning's MLFlowLogger for a run in `folder`, its parameters already logged."""
    require_mlflow()
    uri, artifacts = tracking_target(folder)
    folder.mkdir(parents=True, exist_ok=True)  # the SQLite file is created in it
    logger = MLFlowLogger(experiment_name=experiment_name(), run_name=folder.name,
                          tracking_uri=uri, artifact_location=artifacts,
                          tags={"archforge.run_dir": str(folder)})
    logger.log_hyperparams(dict(resolved))  # rank zero only; flattened by Lightning
    return logger


def log_run_files(loggers: Sequence[Logger], folder: Path, best: Path | None,
                  best_epoch: int | None, best_metrics: Mapping[str, float]) -> None:
    """After fit, on rank zero: the resolved config and the best checkpoint's path as
    artifacts of each MLflow run."""
    for logger in loggers:
        if not isinstance(logger, MLFlowLogger) or logger.run_id is None:
            continue
        client, run_id = logger.experiment, logger.run_id
        config = folder / "config.yaml"
        if config.is_file():
            client.log_artifact(run_id, str(config))
        if best is not None:
            client.set_tag(run_id, "best_checkpoint", str(best))
            client.log_dict(run_id, {"path": str(best), "epoch": best_epoch,
                                     "metrics": dict(best_metrics)}, "best_checkpoint.json")
