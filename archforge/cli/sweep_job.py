"""The job side of `hydra/sweeper=archforge`: which trial a Hydra job trains, and the
Lightning callback that reports its epochs to that trial.

The sweeper (archforge/cli/sweeper.py) gives every job it launches one Hydra override,
`hydra.sweeper.job={storage: ..., study: ..., trial: N, threads: T}`, so inside the job
`HydraConfig` names the trial, whatever launcher ran it (in the sweeper's process, a
submitit child, a SLURM node). What the job needs to judge an epoch - the pruner, the
monitored metric - the sweeper stores on the study (`JOB_SETTINGS`), so the job rebuilds
the same pruner from the shared storage.

`PruningCallback()` is the one line an application adds to its `Trainer(callbacks=...)`:
under the sweeper it reports the monitored metric after every validation epoch, stops
training when the pruner says so (archforge's `TrialCallback`) and stores the final
metrics for the sweeper; in any other run it does nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import lightning as L
import optuna
from omegaconf import OmegaConf

from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.errors import ConfigError
from archforge.search.first_winner import with_first_winner
from archforge.search.pruners import make_pruner
from archforge.search.runtime.study import open_storage
from archforge.search.space.search_space import format_value
from archforge.search.trial.callback import TrialCallback
from archforge.search.trial.mo_pruning import CurveMedianRule

JOB_SETTINGS = "archforge:job"  # study user attr: what a job needs to judge its epochs
JOB_METRICS = "job_metrics"  # trial user attr: the metrics at the end of the job's fit
JOB_DIR = "run_dir"


@dataclass(frozen=True)
class JobAddress:
    """The trial a job trains: the study's storage URL and name, the trial's number, and the
    torch threads the job may use (None: its own default)."""

    storage: str
    study: str
    trial: int
    threads: int | None = None

    def override(self) -> str:
        fields = {"storage": self.storage, "study": self.study, "trial": self.trial,
                  "threads": self.threads}
        inner = ",".join(f"{k}:{_quoted(v)}" for k, v in fields.items())
        return f"hydra.sweeper.job={{{inner}}}"


def _quoted(value: Any) -> str:
    if isinstance(value, str):  # always quoted: a URL's ':' and '/' are Hydra syntax
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return format_value(value)


def job_address() -> JobAddress | None:
    """This Hydra job's trial, or None outside a job the archforge sweeper launched."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra_cfg: Any = HydraConfig.get()
    node = OmegaConf.select(hydra_cfg, "sweeper.job", default=None)
    if node is None:
        return None
    raw: Any = OmegaConf.to_container(node)
    threads = raw.get("threads")
    return JobAddress(str(raw["storage"]), str(raw["study"]), int(raw["trial"]),
                      None if threads is None else int(threads))


def job_settings(settings: SearchSettings, max_epochs: int) -> dict[str, Any]:
    """What every job of a sweep needs to judge its epochs (stored on the study)."""
    monitor = next(o for o in settings.objectives if o.metric not in COST_METRICS)
    return {"pruner": settings.pruner, "max_epochs": max_epochs,
            "allowed_targets": list(settings.allowed_targets), "monitor": monitor.metric,
            "maximize": monitor.direction == "maximize",
            "multi_objective": settings.multi_objective,
            "min_completed": settings.min_completed}


def open_trial_callback(address: JobAddress) -> TrialCallback:
    """archforge's pruning callback for the trial a job trains, from the shared storage."""
    storage = open_storage(address.storage)
    try:
        study = optuna.load_study(study_name=address.study, storage=storage)
    except KeyError as exc:
        raise ConfigError("hydra.sweeper.job", f"no study {address.study!r} in "
                          f"{address.storage}") from exc
    spec = study.user_attrs.get(JOB_SETTINGS)
    if not isinstance(spec, dict):
        raise ConfigError("hydra.sweeper.job", f"study {address.study!r} was not started by "
                          "hydra/sweeper=archforge (it has no job settings)")
    multi = bool(spec["multi_objective"])
    pruner = None if multi else make_pruner(spec["pruner"], int(spec["max_epochs"]),
                                            spec["allowed_targets"])
    pruner = with_first_winner(pruner, int(spec.get("min_completed", 0)))
    rule = (CurveMedianRule.from_pruner(spec["pruner"], maximize=bool(spec["maximize"]))
            if multi else None)
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(address.study), address.trial)
    return TrialCallback.reopened(address.storage, address.study, trial_id, address.trial,
                                  pruner, str(spec["monitor"]), rule, multi)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError, RuntimeError):  # a tensor of several values
            continue
    return out


class PruningCallback(L.Callback):
    """Pruning for any Lightning application swept with `hydra/sweeper=archforge`.

    Add it to the `Trainer`; under the sweeper it reports the monitored metric (the
    search's first trained objective, e.g. `val/acc`, as the module logs it) after every
    validation epoch to the study's storage, stops the run when the pruner says so, and
    stores the run's final metrics, which the sweeper turns into the trial's values. With
    `set_threads` (default) it also gives torch the job's share of the cores. Outside the
    sweeper it does nothing.
    """

    def __init__(self, set_threads: bool = True) -> None:
        self.set_threads = set_threads
        self.inner: TrialCallback | None = None

    @property
    def active(self) -> bool:
        return self.inner is not None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or self.inner is not None:
            return
        address = job_address()
        if address is None:
            return
        import torch

        if self.set_threads and address.threads:
            torch.set_num_threads(address.threads)
        self.inner = open_trial_callback(address)
        if trainer.is_global_zero:
            trial = self.inner.trial
            trial.set_user_attr("job_pid", os.getpid())
            trial.set_user_attr("job_threads", torch.get_num_threads())

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.inner is not None:  # reads the optimizer's warm-up: no verdict during it
            self.inner.on_fit_start(trainer, pl_module)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        if self.inner is not None:
            self.inner.on_exception(trainer, pl_module, exception)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.inner is not None:
            self.inner.on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.inner is not None:
            self.inner.on_validation_end(trainer, pl_module)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.inner is None or not trainer.is_global_zero:
            return
        trial = self.inner.trial
        trial.set_user_attr(JOB_DIR, str(trainer.default_root_dir))
        trial.set_user_attr(JOB_METRICS, scalar_metrics(dict(trainer.callback_metrics)))
