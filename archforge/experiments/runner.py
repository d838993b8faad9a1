"""The experiments' one door to training: compose, train, read the per-epoch curves back.

Every run goes through archforge's own `train` (the same path as `archforge train`), so an
experiment measures the product, not a hand-written loop.
"""

from __future__ import annotations

import csv
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from archforge.config.compose import compose
from archforge.training.fit import TrainResult, train

# Every step's loss in metrics.csv, so a per-epoch mean is exact rather than a sample.
RECIPE = ["data=digits", "progress=false", "trainer.log_every_n_steps=1"]


def recipe(overrides: Sequence[str]) -> list[str]:
    """RECIPE + overrides; a `data=<name>` among them replaces the default digits."""
    chosen = any(o.partition("=")[0] == "data" for o in overrides)
    return [*(r for r in RECIPE if not (chosen and r.startswith("data="))), *overrides]


@dataclass
class Curves:
    """Per-epoch metrics of one run, read from its `csv/metrics.csv`."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean of the epoch's step losses
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    @property
    def train_error(self) -> list[float]:
        return [1.0 - a for a in self.train_acc]

    @property
    def val_error(self) -> list[float]:
        return [1.0 - a for a in self.val_acc]


@dataclass
class Run:
    label: str
    result: TrainResult
    curves: Curves

    @property
    def run_dir(self) -> Path:
        return self.result.run_dir


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def read_curves(metrics_csv: Path) -> Curves:
    """Fold Lightning's CSV (step rows and epoch rows, one metric per row) into epochs."""
    losses: dict[int, list[float]] = {}
    per_epoch: dict[int, dict[str, float]] = {}
    with metrics_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row["epoch"])
            loss = _num(row.get("train/loss"))
            if loss is not None:
                losses.setdefault(epoch, []).append(loss)
            for key in ("train/acc", "val/loss", "val/acc"):
                value = _num(row.get(key))
                if value is not None:
                    per_epoch.setdefault(epoch, {})[key] = value
    curves = Curves()
    for epoch in sorted(set(losses) | set(per_epoch)):
        got = per_epoch.get(epoch, {})
        steps = losses.get(epoch, [])
        curves.epochs.append(epoch + 1)  # 1-based, as plots and tables say "after epoch n"
        curves.train_loss.append(sum(steps) / len(steps) if steps else math.nan)
        curves.train_acc.append(got.get("train/acc", math.nan))
        curves.val_loss.append(got.get("val/loss", math.nan))
        curves.val_acc.append(got.get("val/acc", math.nan))
    return curves


def train_run(label: str, overrides: Sequence[str], run_dir: Path) -> Run:
    """Train `RECIPE + overrides` into `run_dir` and return the result with its curves."""
    cfg = compose([*recipe(overrides), f"run_dir={run_dir}"])
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", ".*LeafSpec.*")  # Lightning 2.6 vs torch 2.13 noise
        result = train(cfg, run_dir=run_dir, progress=False)
    return Run(label, result, read_curves(result.run_dir / "csv" / "metrics.csv"))


def validation_logits(overrides: Sequence[str], nets: Sequence[nn.Module]) -> tuple[
    list[torch.Tensor], torch.Tensor
]:
    """Logits of each net (eval mode) on the validation set of the composed data, and labels."""
    from archforge.data import build_datamodule

    cfg = compose(recipe(overrides))
    dm = build_datamodule(cfg.data)
    dm.setup("validate")
    outs: list[list[torch.Tensor]] = [[] for _ in nets]
    labels: list[torch.Tensor] = []
    for net in nets:
        net.eval()
    with torch.no_grad():
        for x, y in dm.val_dataloader():
            labels.append(y)
            for i, net in enumerate(nets):
                outs[i].append(net(x))
    return [torch.cat(o) for o in outs], torch.cat(labels)


def train_size(overrides: Sequence[str]) -> int:
    """How many training images the composed data config yields."""
    from archforge.data import build_datamodule

    dm = build_datamodule(compose(recipe(overrides)).data)
    dm.setup("fit")
    return len(dm.train_set)  # type: ignore[arg-type]

