"""`train(run)`: build, fit and report one validated run. The one entry point for the CLI,
the search and the experiments.

The steps, in order: parse the config once (`archforge.config.run.parse_run`, unless a
`Run` is passed), pick the run directory, seed, build the data and the network, wrap them in
the LightningModule, make callbacks and the Trainer, fit, collect the result.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf

from archforge.checkpoint.weights import load_weights
from archforge.config.run import Run, parse_run
from archforge.errors import ConfigError
from archforge.model.builder import build_network
from archforge.model.network import Network
from archforge.training.checkpoint_io import AtomicCheckpointIO
from archforge.training.finetune import FineTuneSchedule, new_head
from archforge.training.freeze import freeze_backbone, stage_indices, unfreeze
from archforge.training.history import MetricsHistory
from archforge.training.last_checkpoint import LastCheckpoint
from archforge.training.memory_format import choose_channels_last, cpu_safe_channels_last
from archforge.training.module import ClassifierModule
from archforge.training.progress import progress_callbacks
from archforge.training.run_owner import mark
from archforge.training.rundir import RUN_DIR_ENV, choose_run_dir, make_loggers

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run hands back (to the CLI, to an Optuna objective)."""

    run_dir: Path
    metrics: dict[str, float]  # the last epoch's validation metrics: val/acc, val/loss, ...
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    epochs: int  # epochs actually run (early stopping or pruning can end a run sooner)
    model_config: dict = field(default_factory=dict)  # the resolved model mapping built
    best_metrics: dict[str, float] = field(default_factory=dict)  # the epoch in best.ckpt
    best_epoch: int | None = None  # 1-based


def train(
    cfg: Any,
    *,
    callbacks: Sequence[L.Callback] = (),
    run_dir: Path | None = None,
    progress: bool = True,
    checkpoints: bool = True,
    sanity_check: bool = True,
    loggers: bool = True,
) -> TrainResult:
    """Train a composed config (conf/config.yaml + overrides, a mapping, or a parsed `Run`).

    Everything is validated (model on the meta device, data, model/data agreement, optimizer,
    trainer arguments) before any weights or data are allocated.
    """
    run = cfg if isinstance(cfg, Run) else parse_run(cfg)
    folder = choose_run_dir(run_dir or run.keys.run_dir)
    L.seed_everything(run.keys.seed, workers=True, verbose=False)
    datamodule = make_datamodule(run)
    module = make_module(run, build_model(run), datamodule)
    history = MetricsHistory()
    best_cb, last_cb = checkpoint_callbacks(run, folder) if checkpoints else (None, None)
    extra: list[L.Callback] = [history, *(cb for cb in (best_cb, last_cb) if cb is not None)]
    if run.finetune.enabled:
        ft = run.finetune
        extra.append(FineTuneSchedule(ft.head_epochs, ft.unfreeze, ft.lr_factor))
    trainer = make_trainer(run, folder, [*callbacks, *extra], progress and run.keys.progress,
                           checkpoints, sanity_check=sanity_check, loggers=loggers)
    fit(trainer, module, datamodule, folder, run)
    best_epoch, best_metrics = history.best(run.checkpoint.monitor, run.checkpoint.mode)
    if "mlflow" in run.keys.loggers and loggers and trainer.is_global_zero:
        from archforge.training.mlflow_run import log_run_files

        log_run_files(trainer.loggers, folder, _path(best_cb), best_epoch, best_metrics)
    return TrainResult(
        run_dir=folder,
        metrics=history.last()[1],
        best_checkpoint=_path(best_cb),
        last_checkpoint=None if last_cb is None else last_cb.saved,
        epochs=int(trainer.current_epoch),
        model_config=run.model_mapping,
        best_metrics=best_metrics,
        best_epoch=best_epoch,
    )


def make_datamodule(run: Run) -> Any:
    """The data module for the already-validated data config (built after validation: it
    may touch the disk)."""
    from archforge.data.registry import DATASETS

    return DATASETS.get(run.data.name, "data.name")(run.data)


def build_model(run: Run) -> Network:
    """Build the real network and, when configured, load and freeze pretrained weights."""
    model, ft = run.model, run.finetune
    net = build_network(model)
    if model.weights:
        # Fine-tuning starts a new head for the data's classes (a new final Dense layer).
        skip = ("head.",) if ft.enabled and ft.new_head else ()
        load_weights(net, model.weights, key="model.weights", skip_mismatched=skip)
    if ft.enabled:
        new_head(net, model.num_classes)
        freeze_backbone(net, ft.freeze, "finetune.freeze")
        if ft.head_epochs == 0:
            # Phase 2 from the start: unfreeze before DDP wraps the model, so it syncs them.
            for i in stage_indices(net, ft.unfreeze, "finetune.unfreeze"):
                unfreeze(net.stages[i])
    return net


def make_module(run: Run, net: Network, datamodule: Any) -> ClassifierModule:
    meta = {
        "config": run.resolved,
        "model": run.model_mapping,
        "class_names": [str(c) for c in getattr(datamodule, "class_names", []) or []],
        "mean": _floats(getattr(datamodule, "mean", None)),
        "std": _floats(getattr(datamodule, "std", None)),
        "channels": run.model.in_channels,
        "image_size": run.model.input_size,
    }
    return ClassifierModule(
        net,
        run.optim,
        label_smoothing=run.keys.label_smoothing,
        channels_last=channels_last(run, net),
        compile=run.keys.compile,
        meta=meta,
    )


def channels_last(run: Run, net: Network) -> bool:
    """The top-level key wins, then the trainer preset's, then archforge's measured choice
    for the accelerator and the model's block families; on a CPU, never for a network oneDNN
    cannot train in channels_last (training/memory_format.py)."""
    preset = {"channels_last": run.trainer.channels_last, "accelerator": run.trainer.accelerator}
    wanted = choose_channels_last(run.keys.channels_last, preset, run.model)
    explicit = run.keys.channels_last is not None or run.trainer.channels_last is not None
    return cpu_safe_channels_last(wanted, run.trainer.accelerator, net, explicit=explicit)


def checkpoint_callbacks(run: Run, folder: Path) -> tuple[ModelCheckpoint, LastCheckpoint]:
    """best.ckpt when `checkpoint.monitor` improves, last.ckpt every
    `checkpoint.last_every_n_epochs` epochs and in the final one (last_checkpoint.py)."""
    best = ModelCheckpoint(
        dirpath=folder / "checkpoints", filename="best", monitor=run.checkpoint.monitor,
        mode=run.checkpoint.mode, save_top_k=1, auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # A callback of its own for last.ckpt: Lightning 2.6's `save_last=True` rewrites it only
    # in epochs that also produced a new best.
    return best, LastCheckpoint(folder / "checkpoints", run.checkpoint.last_every_n_epochs)


def make_trainer(run: Run, folder: Path, callbacks: list[L.Callback], progress: bool,
                 checkpoints: bool, *, sanity_check: bool = True,
                 loggers: bool = True) -> L.Trainer:
    """The Trainer for `run`. A search trial turns off what only costs it time: the
    sanity-check validation (the meta check already traced the model) and the loggers."""
    kwargs = run.trainer.kwargs()
    if not sanity_check:
        kwargs["num_sanity_val_steps"] = 0
    if kwargs.get("accelerator") == "cpu" and "bf16" in str(kwargs.get("precision", "")):
        # bf16 matmul is about 4x slower than fp32 on common CPUs: a GPU preset moved to the
        # CPU (`trainer=ddp trainer.accelerator=cpu`) trains in fp32 instead.
        log.warning("precision %s on CPU is slow; using 32-true", kwargs["precision"])
        kwargs["precision"] = "32-true"
    if progress:  # on stderr, epochs counted from 1 as in the printed result
        callbacks = [*callbacks, *progress_callbacks()]
    try:
        return L.Trainer(
            **kwargs,
            default_root_dir=folder,
            logger=(loggers and make_loggers(run.keys.loggers, folder, run.resolved)) or False,
            callbacks=callbacks,
            enable_checkpointing=checkpoints,
            enable_progress_bar=progress,
            enable_model_summary=False,  # progress_callbacks() has its own
            plugins=[AtomicCheckpointIO()],
        )
    except (TypeError, ValueError) as exc:  # includes Lightning's MisconfigurationException
        raise ConfigError("trainer", f"lightning.Trainer refused the arguments: "
                          f"{str(exc).splitlines()[0]}") from exc


def fit(trainer: L.Trainer, module: ClassifierModule, datamodule: Any, folder: Path,
        run: Run) -> None:
    """`trainer.fit`, with the run directory announced to DDP children and torn down after."""
    if trainer.is_global_zero:
        mark(folder)  # its files of archforge's layout are archforge's (run_owner.py)
        (folder / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(run.resolved)))
    # DDP children re-run this command; they read rank 0's run directory from the environment.
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(folder)
    try:
        with warnings.catch_warnings():
            # Small data sets (digits) have few batches; Lightning's advice is noise here.
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", ".*number of training batches.*")
            trainer.fit(module, datamodule=datamodule)
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
    _write_rank_info(trainer, folder)
    _end_process_group()


def _path(callback: ModelCheckpoint | None) -> Path | None:
    if callback is None or not callback.best_model_path:
        return None
    return Path(callback.best_model_path)


def _floats(value: Any) -> list[float] | None:
    if value is None:
        return None
    return [float(v) for v in torch.as_tensor(value).flatten().tolist()]


def _end_process_group() -> None:
    """Tear the process group down now, while every rank is still in step. Lightning leaves
    it to an atexit handler, which can race gloo's threads at interpreter exit and abort the
    process ("terminate called without an active exception") after a successful run."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _write_rank_info(trainer: L.Trainer, folder: Path) -> None:
    """run_dir/ranks.json: which processes took part (world size, each rank's step count)."""
    steps = torch.tensor([trainer.global_rank, trainer.global_step], dtype=torch.long)
    gathered = trainer.strategy.all_gather(steps)
    if trainer.is_global_zero:
        rows = gathered.reshape(-1, 2).tolist()
        ranks = [{"rank": r, "steps": s} for r, s in rows]
        info = {"world_size": trainer.world_size, "ranks": ranks}
        tmp = folder / ".ranks.json.tmp"
        tmp.write_text(json.dumps(info, indent=1))
        os.replace(tmp, folder / "ranks.json")
