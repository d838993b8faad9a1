"""Transfer learning by freezing and fine-tuning (Yosinski et al. 2014, "How transferable are
features in deep neural networks?"; the Keras transfer-learning recipe): features learnt on
one task give a head start on a related task with little data.

Pretrain ResNet-20 on classes 0-4 (digits by default; `data=fashion_mnist` for clothes);
then, on a small fraction of the 5-9 training images
(`data.val_fraction` holds the rest out, so validation is large and the training set
small), run archforge's own fine-tuning path: `model.weights=<checkpoint>` with
`finetune.enabled=true` (stem and stages frozen, the head trains for `head_epochs`, then the
last stage unfreezes at `lr_factor` x the rate). Beside it, the same network trained from
scratch on the same images for the same epochs. Both classifiers have 5 outputs, so the head
is loaded from the 0-4 checkpoint rather than drawn anew; phase 1 retrains it for 5-9.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archforge.experiments.report import Outcome, Table, figure_axes, save_figure
from archforge.experiments.runner import Run, train_run, train_size
from archforge.typed import require

TRAINS = True


@dataclass
class Settings:
    model: str = "resnet20"
    source: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    target: list[int] = field(default_factory=lambda: [5, 6, 7, 8, 9])
    pretrain_epochs: int = 6
    epochs: int = 8  # on the target, for both arms
    head_epochs: int = 3  # fine-tuning phase 1: only the head trains
    lr_factor: float = 0.1  # phase 2 rate, as a fraction of the schedule
    target_train_fraction: float = 0.1  # of the target classes' images used for training
    batch_size: int = 16  # on the target: a few images still make several steps
    seed: int = 0

    threads: int = 1  # torch threads (why one: archforge/cli/experiment.py)

    def check(self, path: str) -> None:
        require(self.threads >= 1, f"{path}.threads", self.threads, "an integer >= 1")
        for key in ("pretrain_epochs", "epochs"):
            require(getattr(self, key) >= 1, f"{path}.{key}", getattr(self, key), ">= 1")
        require(0 <= self.head_epochs < self.epochs, f"{path}.head_epochs", self.head_epochs,
                f"an integer in [0, epochs={self.epochs})")
        require(0 < self.target_train_fraction < 1, f"{path}.target_train_fraction",
                self.target_train_fraction, "a fraction strictly between 0 and 1")
        require(self.lr_factor > 0, f"{path}.lr_factor", self.lr_factor, "a number > 0")
        require(self.batch_size >= 1, f"{path}.batch_size", self.batch_size, ">= 1")
        overlap = sorted(set(self.source) & set(self.target))
        require(not overlap, f"{path}.target", self.target,
                f"classes not in source={self.source} (shared: {overlap})")


def _classes(classes: list[int]) -> list[str]:
    listed = ",".join(str(c) for c in classes)
    return [f"data.classes=[{listed}]", f"data.num_classes={len(classes)}"]


def run(settings: Settings, overrides: list[str], run_dir: Path) -> Outcome:
    common = [f"model={settings.model}", f"seed={settings.seed}"]
    pre = train_run("pretrained", [
        *common, *_classes(settings.source), f"trainer.max_epochs={settings.pretrain_epochs}",
        *overrides,
    ], run_dir / "pretrain_source")
    assert pre.result.best_checkpoint is not None  # checkpoints are on in every run
    small = [
        *common, *_classes(settings.target), f"trainer.max_epochs={settings.epochs}",
        f"data.val_fraction={1 - settings.target_train_fraction}",
        f"data.batch_size={settings.batch_size}", *overrides,
    ]
    tuned = train_run("fine-tuned", [
        *small, f"model.weights={pre.result.best_checkpoint}", "finetune.enabled=true",
        f"finetune.head_epochs={settings.head_epochs}", "finetune.unfreeze=[-1]",
        f"finetune.lr_factor={settings.lr_factor}",
    ], run_dir / "finetune_target")
    scratch = train_run("from scratch", small, run_dir / "scratch_target")

    curves = Table("target validation accuracy", ["epoch", "phase", "fine-tuned",
                                                  "from scratch"])
    for i, epoch in enumerate(tuned.curves.epochs):
        phase = "head only" if epoch <= settings.head_epochs else "last stage unfrozen"
        curves.rows.append([epoch, phase, round(tuned.curves.val_acc[i], 4),
                            round(scratch.curves.val_acc[i], 4)])
    n_train = train_size(small)
    outcome = Outcome("transfer", run_dir, [curves])
    ft, sc = tuned.curves.val_acc[-1], scratch.curves.val_acc[-1]
    outcome.notes += [
        f"pretrained on classes {settings.source} for {settings.pretrain_epochs} epochs: "
        f"val acc {pre.curves.val_acc[-1]:.4f}",
        f"target classes {settings.target}, {n_train} training images "
        f"({settings.target_train_fraction:.0%}), {settings.epochs} epochs: fine-tuned "
        f"{ft:.4f} vs from scratch {sc:.4f} final val acc "
        f"({'transfer helped: claim held' if ft > sc else 'claim NOT seen on this run'})",
        "fine-tuned ahead after epoch(s) "
        + (", ".join(str(r[0]) for r in curves.rows if r[2] > r[3]) or "none")
        + f" of {settings.epochs}",
        f"runs: {pre.run_dir.name}/, {tuned.run_dir.name}/, {scratch.run_dir.name}/",
    ]
    outcome.figures.append(_plot(tuned, scratch, settings.head_epochs, run_dir / "transfer.png"))
    return outcome


def _plot(tuned: Run, scratch: Run, head_epochs: int, path: Path) -> Path:
    fig, (ax,) = figure_axes(1, width=6.0)
    ax.plot(tuned.curves.epochs, tuned.curves.val_acc, "o-", label="fine-tuned from 0-4")
    ax.plot(scratch.curves.epochs, scratch.curves.val_acc, "s--", label="from scratch")
    if head_epochs:
        ax.axvline(head_epochs + 0.5, color="k", lw=0.5, ls=":")
        ax.text(head_epochs + 0.6, 0.05, "last stage unfrozen", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (target classes)")
    ax.legend()
    return save_figure(fig, path)
