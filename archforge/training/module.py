"""The LightningModule that trains any archforge `Network` as an image classifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from archforge.checkpoint import META_KEY
from archforge.config.sections import TOP5_MIN_CLASSES, OptimConfig
from archforge.model.network import Network
from archforge.training.freeze import keep_frozen_norms_in_eval
from archforge.training.optim import build_optimizer, build_scheduler


class ClassifierModule(L.LightningModule):
    """Cross-entropy (with optional label smoothing, Szegedy et al. 2016), top-1 and (with
    more than 5 classes) top-5 accuracy, optimizer and per-step LR schedule from `OptimConfig`.

    `meta` (plain data: resolved config, class names, ...) is stored in every checkpoint.
    """

    def __init__(
        self,
        net: Network,
        optim: OptimConfig,
        *,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.optim = optim
        self.label_smoothing = label_smoothing
        self.channels_last = channels_last
        self.meta = dict(meta or {})
        num_classes = net.config.num_classes
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        # Top-5 of 5 or fewer classes is always 100%: not measured, not shown.
        self.val_acc5 = (MulticlassAccuracy(num_classes, top_k=5, average="micro")
                         if num_classes > TOP5_MIN_CLASSES else None)
        if channels_last:
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # One sample of the network's input: Lightning's summary shows in/out shapes and FLOPs.
        height, width = net.config.spatial_size
        self.example_input_array = torch.zeros(1, net.config.in_channels, height, width)
        if compile:
            # Every archforge network runs the same `Network.forward`, and dynamo compiles a
            # code object at most `recompile_limit` (8) times per process: the ninth network
            # of a search would silently run eagerly. A new network starts a fresh cache.
            torch.compiler.reset()
        # Kept out of the module tree (plain __dict__ entry) so checkpoints hold only `net.*`.
        self.__dict__["_forward"] = torch.compile(self.net) if compile else self.net

    _forward: Callable[[torch.Tensor], torch.Tensor]  # set in __init__ (see the comment there)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._forward(x)

    def train(self, mode: bool = True) -> ClassifierModule:
        super().train(mode)
        keep_frozen_norms_in_eval(self)  # frozen BN layers never update running statistics
        return self

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        self.train_acc(logits, y)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.val_acc(logits, y)
        # on_epoch + sync_dist: one value per validation epoch, averaged over DDP ranks; the
        # Optuna pruning callback reads trainer.callback_metrics["val/acc"].
        self.log("val/loss", loss, on_epoch=True, sync_dist=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_epoch=True, sync_dist=True, prog_bar=True)
        if self.val_acc5 is not None:
            self.val_acc5(logits, y)
            self.log("val/acc_top5", self.val_acc5, on_epoch=True, sync_dist=True)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.net, self.optim)
        total = int(self.trainer.estimated_stepping_batches)
        epochs = max(1, int(self.trainer.max_epochs or 1))
        scheduler = build_scheduler(optimizer, self.optim, total, total / epochs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[META_KEY] = self.meta
