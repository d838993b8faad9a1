"""Two-phase fine-tuning in one `Trainer.fit` (Chollet's Keras transfer-learning guide; the
common ResNet-50 cats-vs-dogs example): phase 1 trains only the new head on a frozen
backbone; phase 2 unfreezes the last stage(s) and continues at a lower learning rate, so the
pretrained features move only a little.

Every parameter is in the optimizer from the start (frozen ones simply get no gradient), so
unfreezing needs no new parameter group; the lower rate is a factor on the LR schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import lightning as L
from torch import nn

from archforge.model.network import Network
from archforge.training.freeze import stage_indices, unfreeze
from archforge.training.optim import Schedule

log = logging.getLogger(__name__)


def new_head(net: Network, num_classes: int) -> None:
    """Replace the head's final linear layer for `num_classes` (a new final Dense layer)."""
    fc = getattr(net.head, "fc", None)
    if not isinstance(fc, nn.Linear):
        raise TypeError(f"head {type(net.head).__name__} has no linear `fc` to replace")
    if fc.out_features != num_classes:
        net.head.fc = nn.Linear(fc.in_features, num_classes)
        net.head.num_classes = num_classes  # type: ignore[assignment]


class FineTuneSchedule(L.Callback):
    """At epoch `head_epochs`, unfreeze `unfreeze` stages and scale the LR by `lr_factor`."""

    def __init__(
        self, head_epochs: int, unfreeze_stages: Sequence[int | str], lr_factor: float
    ) -> None:
        self.head_epochs = head_epochs
        self.unfreeze_stages = list(unfreeze_stages)
        self.lr_factor = lr_factor

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch != self.head_epochs:
            return
        net: Network = pl_module.net  # type: ignore[assignment]
        chosen = stage_indices(net, self.unfreeze_stages, "finetune.unfreeze")
        for i in chosen:
            unfreeze(net.stages[i], train=True)
        for config in trainer.lr_scheduler_configs:
            sched = config.scheduler
            fns = getattr(sched, "lr_lambdas", [])
            for fn in fns:
                if isinstance(fn, Schedule):
                    fn.scale = self.lr_factor
            # Apply now rather than at the next scheduler step, so phase 2's first step is slow.
            groups = sched.optimizer.param_groups
            for group, base, fn in zip(groups, sched.base_lrs, fns, strict=True):
                group["lr"] = base * fn(sched.last_epoch)
        names = ", ".join(net.stage_names[i] for i in chosen)
        log.info("fine-tuning phase 2: unfroze %s, lr x %s", names, self.lr_factor)
