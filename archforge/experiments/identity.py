"""The identity thought experiment of He et al. 2015 ("Deep Residual Learning", Sec. 1):
a deeper model built from a trained shallower one plus added identity mappings has no
higher training error, so depth alone cannot make a network worse, only optimisation can.

Made concrete: train ResNet-20 on digits; build a deeper net with `extra_blocks` residual
blocks appended to one stage, their last batch norm zero-initialised (`zero_init_residual`,
Goyal et al. 2017), so each new block computes relu(0 + x) = x on the post-ReLU input it
receives; copy the trained weights in; compare outputs (expected max |diff| exactly 0) and
accuracy; then fine-tune the deeper net, beside the shallow net trained on for the same
epochs at the same rate (a control: both restart the optimiser from the same weights).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from archforge.api import build
from archforge.checkpoint.weights import load_weights
from archforge.errors import ConfigError
from archforge.experiments.report import Outcome, Table, figure_axes, save_figure
from archforge.experiments.runner import Curves, train_run, validation_logits
from archforge.typed import require

TRAINS = True


@dataclass
class Settings:
    model: str = "resnet20"
    epochs: int = 5  # training of the shallow net
    stage: int = -1  # where the identity blocks go (index; negative counts from the end)
    extra_blocks: int = 3
    finetune_epochs: int = 2
    finetune_lr: float = 0.01
    seed: int = 0

    threads: int = 1  # torch threads (why one: archforge/cli/experiment.py)

    def check(self, path: str) -> None:
        require(self.threads >= 1, f"{path}.threads", self.threads, "an integer >= 1")
        for key in ("epochs", "extra_blocks", "finetune_epochs"):
            value = getattr(self, key)
            require(value >= 1, f"{path}.{key}", value, "an integer >= 1")
        require(self.finetune_lr > 0, f"{path}.finetune_lr", self.finetune_lr, "a number > 0")


def _deeper(mapping: dict, stage: int, extra: int, path: str) -> tuple[dict, int, list[str]]:
    """The mapping with `extra` zero-initialised blocks appended to `stage`; the stage's
    index and the state-dict prefixes of the new blocks."""
    deep = copy.deepcopy(mapping)
    stages = deep["stages"]
    if not -len(stages) <= stage < len(stages):
        raise ConfigError(f"{path}.stage", f"got {stage}; the model has {len(stages)} stages")
    s = stage % len(stages)
    old = int(stages[s].get("depth", 1))
    stages[s]["depth"] = old + extra
    stages[s]["options"] = {**stages[s].get("options", {}), "zero_init_residual": True}
    deep["name"] = f"{mapping['name']}+{extra}"
    deep["weights"] = None
    return deep, s, [f"stages.{s}.{j}." for j in range(old, old + extra)]


def run(settings: Settings, overrides: list[str], run_dir: Path) -> Outcome:
    path = "experiment.identity"
    base = [f"model={settings.model}", f"seed={settings.seed}", *overrides]
    shallow = train_run("shallow", [*base, f"trainer.max_epochs={settings.epochs}"],
                        run_dir / "shallow")
    trained = shallow.result.last_checkpoint
    assert trained is not None  # train() always writes last.ckpt when checkpoints are on
    mapping = shallow.result.model_config
    deep_map, s, new_blocks = _deeper(mapping, settings.stage, settings.extra_blocks, path)

    shallow_net = build({**mapping, "weights": None})
    load_weights(shallow_net, trained, key="shallow checkpoint")
    deep_net = build(deep_map)
    load_weights(deep_net, shallow_net.state_dict(), key="shallow weights", exclude=new_blocks)
    (logits_s, logits_d), labels = validation_logits(base, [shallow_net, deep_net])
    max_diff = float((logits_s - logits_d).abs().max())
    acc_s = float((logits_s.argmax(1) == labels).float().mean())
    acc_d = float((logits_d.argmax(1) == labels).float().mean())

    start = run_dir / "deeper_start.pt"
    torch.save(deep_net.state_dict(), start)
    more = [f"trainer.max_epochs={settings.finetune_epochs}", f"optim.lr={settings.finetune_lr}",
            "optim.warmup_epochs=0"]
    depth = deep_map["stages"][s]["depth"]
    deep_run = train_run("deeper", [*base, *more, f"model.stages.{s}.depth={depth}",
                                    f"model.weights={start}"], run_dir / "deeper_finetuned")
    control = train_run("shallow", [*base, *more, f"model.weights={trained}"],
                        run_dir / "shallow_continued")

    tuned_net = build({**deep_map, "weights": None})
    assert deep_run.result.last_checkpoint is not None
    load_weights(tuned_net, deep_run.result.last_checkpoint, key="deeper checkpoint")
    # Did the new blocks learn, or stay identities? The scale of their closing norm says.
    blocks = [tuned_net.get_submodule(b.rstrip(".")) for b in new_blocks]
    # `final_norm` names the zero-initialised norm: bn2 in `basic`, bn3 in `bottleneck`.
    scales = [getattr(b, getattr(b, "final_norm", "bn2")).weight.detach() for b in blocks]
    gamma = max(float(s.abs().max()) for s in scales)
    n_s = sum(p.numel() for p in shallow_net.parameters())
    n_d = sum(p.numel() for p in deep_net.parameters())
    check = Table("identity check", ["model", "blocks", "params", "val acc",
                                     "max |logit diff| vs shallow"])
    blocks_s = sum(int(st.get("depth", 1)) for st in mapping["stages"])
    check.rows += [
        [mapping["name"], blocks_s, n_s, round(acc_s, 4), 0.0],
        [f"{deep_map['name']} (identity blocks)", blocks_s + settings.extra_blocks, n_d,
         round(acc_d, 4), max_diff],
    ]
    tune = Table("fine-tuning", ["epoch", "deeper val acc", "shallow val acc",
                                 "deeper train loss", "shallow train loss"])
    for i, epoch in enumerate(deep_run.curves.epochs):
        tune.rows.append([
            settings.epochs + epoch, round(deep_run.curves.val_acc[i], 4),
            round(control.curves.val_acc[i], 4), round(deep_run.curves.train_loss[i], 4),
            round(control.curves.train_loss[i], 4),
        ])
    outcome = Outcome("identity", run_dir, [check, tune])
    held = max_diff <= 1e-5 and acc_d == acc_s
    outcome.notes += [
        f"{settings.extra_blocks} blocks with zero-initialised last batch norm appended to "
        f"stage {s} of {mapping['name']} trained {settings.epochs} epoch(s) (seed "
        f"{settings.seed}): max |logit diff| {max_diff:.3g}, val acc {acc_s:.4f} -> {acc_d:.4f}"
        f" ({'the deeper net computes the same function: claim held' if held else 'NOT equal'})",
        f"after {settings.finetune_epochs} more epoch(s) at lr {settings.finetune_lr}: deeper "
        f"{deep_run.curves.val_acc[-1]:.4f} vs shallow {control.curves.val_acc[-1]:.4f} val "
        f"acc, train loss {deep_run.curves.train_loss[-1]:.4f} vs "
        f"{control.curves.train_loss[-1]:.4f}; the new blocks' closing batch-norm scales "
        f"moved from 0 to at most {gamma:.3g}",
        f"runs: {shallow.run_dir.name}/, {deep_run.run_dir.name}/, {control.run_dir.name}/ "
        "(each with config.yaml, checkpoints/ and csv/metrics.csv)",
    ]
    outcome.figures.append(_plot(shallow.curves, deep_run.curves, control.curves,
                                 settings.epochs, run_dir / "identity.png"))
    return outcome


def _plot(pre: Curves, deep: Curves, control: Curves, offset: int, path: Path) -> Path:
    fig, (ax_acc, ax_loss) = figure_axes(2)
    for ax, key, title in ((ax_acc, "val_acc", "validation accuracy"),
                           (ax_loss, "train_loss", "training loss (epoch mean)")):
        ax.plot(pre.epochs, getattr(pre, key), "o-", color="tab:gray", label="shallow, training")
        later = [offset + e for e in deep.epochs]
        ax.plot(later, getattr(control, key), "s-", color="tab:blue", label="shallow, continued")
        ax.plot(later, getattr(deep, key), "^--", color="tab:red",
                label="deeper (+identity blocks)")
        ax.axvline(offset + 0.5, color="k", lw=0.5, ls=":")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend()
    return save_figure(fig, path)
