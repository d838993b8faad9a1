"""`train(cfg)`: validate, build, fit, and report. The one entry point for the CLI and search."""

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
from omegaconf import DictConfig, OmegaConf

from archforge.config.compose import to_plain
from archforge.model.builder import build_network
from archforge.model.network import Network
from archforge.model.schema import ModelConfig
from archforge.model.weights import load_weights
from archforge.training.checkpoint_io import AtomicCheckpointIO
from archforge.training.finetune import FineTuneSchedule, new_head
from archforge.training.freeze import freeze_backbone, stage_indices, unfreeze
from archforge.training.module import ClassifierModule
from archforge.training.rundir import RUN_DIR_ENV, choose_run_dir, make_loggers
from archforge.training.validate import check_all

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run hands back (to the CLI, to an Optuna objective)."""

    run_dir: Path
    metrics: dict[str, float]  # final validation metrics: val/acc, val/loss, val/acc_top5
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    epochs: int  # epochs actually run (early stopping or pruning can end a run sooner)
    model_config: dict = field(default_factory=dict)  # the resolved model mapping built


def build_model(model: ModelConfig, cfg: DictConfig) -> Network:
    """Build the real network and, when configured, load and freeze pretrained weights."""
    ft = to_plain(cfg.get("finetune") or {}, "finetune")
    finetuning = bool(ft.get("enabled"))
    net = build_network(model)
    if model.weights:
        # Fine-tuning starts a new head for the data's classes (the seeds' new Dense layer).
        skip = ("head.",) if finetuning and ft.get("new_head", True) else ()
        load_weights(net, model.weights, key="model.weights", skip_mismatched=skip)
    if finetuning:
        new_head(net, model.num_classes)
        freeze_backbone(net, ft.get("freeze", "all"), "finetune.freeze")
        if ft.get("head_epochs", 0) == 0:
            # Phase 2 from the start: unfreeze before DDP wraps the model, so it syncs them.
            for i in stage_indices(net, ft.get("unfreeze", [-1]), "finetune.unfreeze"):
                unfreeze(net.stages[i])
    return net


def _channels_last(cfg: DictConfig, trainer_cfg: dict[str, Any]) -> bool:
    explicit = cfg.get("channels_last")
    if explicit is not None:
        return bool(explicit)
    return bool(trainer_cfg.get("channels_last", False))


def _cpu_precision(kwargs: dict[str, Any]) -> None:
    # bf16 matmul is about 4x slower than fp32 on this class of CPU (DESIGN.md): a GPU preset
    # moved to CPU (`trainer=ddp trainer.accelerator=cpu`) trains in fp32 instead.
    if kwargs.get("accelerator") == "cpu" and "bf16" in str(kwargs.get("precision", "")):
        log.warning("precision %s on CPU is slow; using 32-true", kwargs["precision"])
        kwargs["precision"] = "32-true"


def _floats(value: Any) -> list[float] | None:
    if value is None:
        return None
    return [float(v) for v in torch.as_tensor(value).flatten().tolist()]


def _metrics(trainer: L.Trainer) -> dict[str, float]:
    keys = ("val/acc", "val/loss", "val/acc_top5")
    return {k: float(trainer.callback_metrics[k]) for k in keys if k in trainer.callback_metrics}


def train(
    cfg: DictConfig,
    *,
    callbacks: Sequence[L.Callback] = (),
    run_dir: Path | None = None,
    progress: bool = True,
    checkpoints: bool = True,
    sanity_check: bool = True,
    loggers: bool = True,
) -> TrainResult:
    """Train the composed config `cfg` (conf/config.yaml + overrides) and return the result.

    The whole config is validated (model on the meta device, data keys, model/data agreement,
    optimizer, trainer arguments) before any weights or data are allocated.
    """
    model_cfg, mapping, optim, kwargs = check_all(cfg)
    from archforge.data import build_datamodule  # after validation: it may touch the disk

    run_dir = choose_run_dir(run_dir or cfg.get("run_dir"))
    _cpu_precision(kwargs)
    if not sanity_check:
        kwargs["num_sanity_val_steps"] = 0
    seed = int(cfg.get("seed", 0))
    L.seed_everything(seed, workers=True, verbose=False)

    datamodule = build_datamodule(cfg.data)
    net = build_model(model_cfg, cfg)
    resolved = to_plain(cfg, "config")
    meta = {
        "config": resolved,
        "model": mapping,
        "class_names": [str(c) for c in getattr(datamodule, "class_names", []) or []],
        "mean": _floats(getattr(datamodule, "mean", None)),
        "std": _floats(getattr(datamodule, "std", None)),
        "channels": model_cfg.in_channels,
        "image_size": model_cfg.input_size,
    }
    module = ClassifierModule(
        net,
        optim,
        label_smoothing=float(cfg.get("label_smoothing", 0.0)),
        channels_last=_channels_last(cfg, to_plain(cfg.trainer, "trainer")),
        compile=bool(cfg.get("compile", False)),
        meta=meta,
    )

    all_callbacks: list[L.Callback] = list(callbacks)
    checkpoint_cb: ModelCheckpoint | None = None
    last_cb: ModelCheckpoint | None = None
    ckpt = to_plain(cfg.get("checkpoint") or {}, "checkpoint")
    if checkpoints:
        folder = run_dir / "checkpoints"
        checkpoint_cb = ModelCheckpoint(
            dirpath=folder, filename="best", monitor=ckpt.get("monitor", "val/acc"),
            mode=ckpt.get("mode", "max"), save_top_k=1, auto_insert_metric_name=False,
            enable_version_counter=False,
        )
        # A second, unmonitored callback for last.ckpt: Lightning 2.6's `save_last=True`
        # rewrites last.ckpt only in epochs that also produced a new best.
        last_cb = ModelCheckpoint(
            dirpath=folder, filename="last", monitor=None, save_top_k=1,
            enable_version_counter=False,
        )
        all_callbacks += [checkpoint_cb, last_cb]
    ft = to_plain(cfg.get("finetune") or {}, "finetune")
    if ft.get("enabled"):
        all_callbacks.append(
            FineTuneSchedule(ft["head_epochs"], ft.get("unfreeze", [-1]), ft.get("lr_factor", 0.1))
        )
    show_progress = progress and bool(cfg.get("progress", True))

    trainer = L.Trainer(
        **kwargs,
        default_root_dir=run_dir,
        logger=(loggers and make_loggers(cfg.get("logger", "csv"), run_dir)) or False,
        callbacks=all_callbacks,
        enable_checkpointing=checkpoints,
        enable_progress_bar=show_progress,
        enable_model_summary=show_progress,
        plugins=[AtomicCheckpointIO()],
    )
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
    # DDP children re-run this command; they read rank 0's run directory from the environment.
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(run_dir)
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
    _write_rank_info(trainer, run_dir)
    _end_process_group()

    best = last = None
    if checkpoint_cb is not None:
        best = Path(checkpoint_cb.best_model_path) if checkpoint_cb.best_model_path else None
    if last_cb is not None and last_cb.best_model_path:
        last = Path(last_cb.best_model_path)
    return TrainResult(
        run_dir=run_dir,
        metrics=_metrics(trainer),
        best_checkpoint=best,
        last_checkpoint=last,
        epochs=int(trainer.current_epoch),
        model_config=mapping,
    )


def _end_process_group() -> None:
    """Tear the process group down now, while every rank is still in step. Lightning leaves
    it to an atexit handler, which can race gloo's threads at interpreter exit and abort the
    process ("terminate called without an active exception") after a successful run."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _write_rank_info(trainer: L.Trainer, run_dir: Path) -> None:
    """run_dir/ranks.json: which processes took part (world size, each rank's step count)."""
    steps = torch.tensor([trainer.global_rank, trainer.global_step], dtype=torch.long)
    gathered = trainer.strategy.all_gather(steps)
    if trainer.is_global_zero:
        rows = gathered.reshape(-1, 2).tolist()
        ranks = [{"rank": r, "steps": s} for r, s in rows]
        info = {"world_size": trainer.world_size, "ranks": ranks}
        tmp = run_dir / ".ranks.json.tmp"
        tmp.write_text(json.dumps(info, indent=1))
        os.replace(tmp, run_dir / "ranks.json")
