"""The run directory (Hydra's `outputs/<date>/<time>` convention) and the loggers in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from archforge.errors import ConfigError
from archforge.training.run_owner import check_owner

# DDP re-runs the command in each child process; they must write into rank 0's directory,
# not one named after their own start time. Rank 0 passes it down in this variable.
RUN_DIR_ENV = "ARCHFORGE_RUN_DIR"


def choose_run_dir(configured: str | Path | None) -> Path:
    if configured:
        return Path(configured).expanduser().resolve()
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited and os.environ.get("LOCAL_RANK", "0") != "0":
        return Path(inherited)
    now = datetime.now()
    base = Path.cwd() / "outputs" / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    run_dir, n = base, 1
    while run_dir.exists():  # two runs started in the same second
        run_dir = base.with_name(f"{base.name}-{n}")
        n += 1
    return run_dir


def make_loggers(kinds: list[str], run_dir: Path,
                 resolved: Mapping[str, Any] | None = None) -> list[Logger]:
    """Loggers for the validated `logger` key (csv, tensorboard, mlflow); all write under
    `run_dir` (mlflow: unless MLFLOW_TRACKING_URI names another store; mlflow_run.py).

    Each file logger writes to run_dir/<kind>/ with an empty version: Lightning's progress
    bar shows a logger's version as `v_num`, which said "csv" (or "oard") before."""
    factories = {"csv": CSVLogger, "tensorboard": TensorBoardLogger}
    loggers: list[Logger] = []
    for kind in kinds:
        if kind == "mlflow":
            from archforge.training.mlflow_run import mlflow_logger

            loggers.append(mlflow_logger(run_dir, resolved or {}))
        else:
            loggers.append(factories[kind](run_dir / kind, name="", version=""))
    return loggers


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_run_dir(run_dir: Path, overwrite: bool = False, key: str = "run_dir",
                  hydra_written: bool = False) -> None:
    """Refuse, before any training, a run directory that training could not write or would
    silently overwrite: a file where a folder belongs, a folder where best.ckpt belongs, a
    read-only place, another run's checkpoints (unless `overwrite=true`), or files archforge
    did not write (run_owner.py; `hydra_written`: Hydra's files of this job are there)."""
    checkpoints = run_dir / "checkpoints"
    for folder in (run_dir, checkpoints):
        if folder.exists() and not folder.is_dir():
            raise ConfigError(key, f"{folder} is a file, not a directory; choose another "
                              "run directory")
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = checkpoints / name
        if ckpt.is_dir():
            raise ConfigError(key, f"{ckpt} is a directory; a checkpoint file is written "
                              "there; remove it or choose another run directory")
    existing = [checkpoints / n for n in ("best.ckpt", "last.ckpt") if (checkpoints / n).exists()]
    if existing and not overwrite:
        raise ConfigError(key, f"{run_dir} already holds another run's checkpoints "
                          f"({', '.join(p.name for p in existing)}); choose a new run directory "
                          "(run_dir=... or hydra.run.dir=...) or pass overwrite=true to replace "
                          "them")
    check_owner(run_dir, overwrite, key, hydra_written)
    for folder in (checkpoints, run_dir):
        place = _nearest_existing(folder)
        if not os.access(place, os.W_OK | os.X_OK):
            raise ConfigError(key, f"{place} is not writable; choose another run directory")
