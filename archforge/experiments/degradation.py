"""The degradation problem (He et al. 2015, "Deep Residual Learning", Sec. 4.2, Fig. 1 and 6):
a deeper plain network reaches a higher training error than a shallower one, which
overfitting cannot explain; with residual shortcuts the deeper network trains no worse.

plain20, plain56, resnet20 and resnet56 (the zoo's CIFAR layouts) train with one recipe on
digits, over several seeds (the seed sets the initialisation; the data split and batch order
stay fixed). The paper's CIFAR recipe where it carries over: batch 128, SGD at 0.1 with
momentum and weight decay, cross-entropy without label smoothing, so the training loss is the
quantity the paper plots. A two-epoch linear warm-up (24 steps) stands in for the paper's
gentler start of very deep nets (Sec. 4.2: 0.01 until training error falls below 80%): at 0.1
from step 12, resnet56's loss spiked to 7.5 in a trial run. The table says whether the
claim held on this run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from archforge.experiments.report import Outcome, Table, figure_axes, mean, save_figure, spread
from archforge.experiments.runner import Run, train_run
from archforge.model.discovery import load_plugins
from archforge.typed import require

TRAINS = True
PAIRS = (("plain20", "plain56"), ("resnet20", "resnet56"))


@dataclass
class Settings:
    models: list[str] = field(default_factory=lambda: ["plain20", "plain56", "resnet20",
                                                       "resnet56"])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    epochs: int = 15

    threads: int = 1  # torch threads (why one: archforge/cli/experiment.py)

    def check(self, path: str) -> None:
        require(self.threads >= 1, f"{path}.threads", self.threads, "an integer >= 1")
        require(bool(self.models), f"{path}.models", self.models, "a non-empty list of models")
        require(bool(self.seeds) and len(set(self.seeds)) == len(self.seeds), f"{path}.seeds",
                self.seeds, "a non-empty list of distinct integers")
        require(self.epochs >= 1, f"{path}.epochs", self.epochs, "an integer >= 1")


def _final(runs: list[Run], attr: str) -> list[float]:
    return [getattr(r.curves, attr)[-1] for r in runs]


def run(settings: Settings, overrides: list[str], run_dir: Path) -> Outcome:
    load_plugins()
    runs: dict[str, list[Run]] = {}
    for model in settings.models:
        for seed in settings.seeds:
            runs.setdefault(model, []).append(train_run(model, [
                "label_smoothing=0.0", "data.batch_size=128",
                # the recipe's 2 warm-up epochs, fewer when the run itself is shorter
                f"optim.warmup_epochs={min(2, settings.epochs - 1)}",
                f"model={model}", f"seed={seed}",
                f"trainer.max_epochs={settings.epochs}", *overrides,
            ], run_dir / f"{model}_seed{seed}"))
    n = len(settings.seeds)
    final = Table(f"after {settings.epochs} epochs, mean over {n} seed(s)", [
        "model", "train loss", "train loss std", "train error", "val error", "best val error",
    ])
    for model, rs in runs.items():
        losses = _final(rs, "train_loss")
        final.rows.append([
            model, round(mean(losses), 4), round(spread(losses), 4),
            round(mean(_final(rs, "train_error")), 4), round(mean(_final(rs, "val_error")), 4),
            round(mean([min(r.curves.val_error) for r in rs]), 4),
        ])
    curves = Table("curves, mean over seeds", ["model", "epoch", "train loss", "train error",
                                              "val error"])
    for model, rs in runs.items():
        for i, epoch in enumerate(rs[0].curves.epochs):
            curves.rows.append([model, epoch] + [
                round(mean([getattr(r.curves, a)[i] for r in rs]), 4)
                for a in ("train_loss", "train_error", "val_error")
            ])
    outcome = Outcome("degradation", run_dir, [final, curves])
    # The verdict reads training error, the quantity of the paper's Fig. 1 and 6; the loss
    # separates nets that both fit every training image only by noise-level margins.
    error = {row[0]: row[3] for row in final.rows}
    loss = {row[0]: row[1] for row in final.rows}
    for shallow, deep in PAIRS:
        if shallow in error and deep in error:
            worse = error[deep] > error[shallow]
            expected = deep.startswith("plain")  # the claim: plain degrades, resnet does not
            verdict = "claim held" if worse == expected else "claim NOT seen on this run"
            outcome.notes.append(
                f"{deep} final training error {error[deep]:.4f} vs {shallow} "
                f"{error[shallow]:.4f} (loss {loss[deep]:.4f} vs {loss[shallow]:.4f}): the "
                f"deeper net trained {'worse' if worse else 'no worse'} ({verdict})"
            )
    outcome.notes.append(f"seeds {settings.seeds}; runs in <model>_seed<k>/ (csv/metrics.csv)")
    outcome.figures.append(_plot(runs, run_dir / "degradation.png"))
    return outcome


def _plot(runs: dict[str, list[Run]], path: Path) -> Path:
    fig, (ax_loss, ax_err) = figure_axes(2)
    colors = ["tab:orange", "tab:red", "tab:cyan", "tab:blue", "tab:green", "tab:purple"]
    for (model, rs), color in zip(runs.items(), colors * 4, strict=False):
        style = "--" if model.startswith("plain") else "-"
        for ax, attr in ((ax_loss, "train_loss"), (ax_err, "val_error")):
            epochs = rs[0].curves.epochs
            values = [[getattr(r.curves, attr)[i] for r in rs] for i in range(len(epochs))]
            ax.plot(epochs, [mean(v) for v in values], style, color=color, label=model)
            lo = [min(v) for v in values]
            hi = [max(v) for v in values]
            if len(rs) > 1 and not any(math.isnan(x) for x in lo + hi):
                ax.fill_between(epochs, lo, hi, color=color, alpha=0.15)
    ax_loss.set_title("training loss (epoch mean; band: min-max over seeds)")
    ax_err.set_title("validation error")
    for ax in (ax_loss, ax_err):
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend()
    return save_figure(fig, path)
