"""The run directory (Hydra's `outputs/<date>/<time>` convention) and the loggers in it."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from archforge.errors import ConfigError

# DDP re-runs the command in each child process; they must write into rank 0's directory,
# not one named after their own start time. Rank 0 passes it down in this variable.
RUN_DIR_ENV = "ARCHFORGE_RUN_DIR"
LOGGERS = ("csv", "tensorboard")


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


def make_loggers(kind: Any, run_dir: Path) -> list[Logger]:
    """`csv`, `tensorboard` or a list of them; all write under `run_dir`."""
    if kind is None or kind is False:
        return []
    kinds = [kind] if isinstance(kind, str) else list(kind)
    loggers: list[Logger] = []
    for k in kinds:
        if k == "csv":
            loggers.append(CSVLogger(run_dir, name="", version="csv"))
        elif k == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir, name="", version="tensorboard"))
        else:
            raise ConfigError("logger", f"got {k!r}; expected csv, tensorboard or a list of them")
    return loggers
