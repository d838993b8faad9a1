"""Supernet training by the sandwich rule with in-place distillation (BigNAS, Yu et al.,
ECCV 2020): every step trains, in one branch, the largest network on the labels, then the
smallest and `sandwich_random` random networks on the largest's soft labels, accumulating
the gradients of all of them into the shared weights before one optimizer step. Branches
take turns step by step, so the cost does not grow with their number.

Each epoch draws its data order, augmentation and sub-networks from (seed, epoch) alone, so
an epoch resumed from the checkpoint replays exactly what an uninterrupted run does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archforge.config.sections import OptimConfig
from archforge.config.supernet_settings import SupernetSettings
from archforge.search.supernet.branches import draw
from archforge.search.supernet.models import try_meta
from archforge.search.supernet.slicing import sliced
from archforge.search.supernet.subnet import forward
from archforge.search.supernet.supernet import Supernet
from archforge.training.optim import build_scheduler

Batches = Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]]  # epoch -> batches


@dataclass
class Progress:
    epoch: int = 0  # epochs done
    losses: list[float] = field(default_factory=list)  # the largest network's mean per epoch


def optimizer(supernet: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """archforge's optimizer settings; norm scales and biases (1-d tensors) skip weight
    decay unless `optim.decay_norm_and_bias` (training/optim.py)."""
    params = [p for p in supernet.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1 or cfg.decay_norm_and_bias]
    rest = [p for p in params if not (p.dim() > 1 or cfg.decay_norm_and_bias)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": rest, "weight_decay": 0.0}]
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class SandwichTrainer:
    """Trains `supernet` for `settings.epochs`; `state_dict` / `load_state_dict` resume."""

    def __init__(self, supernet: Supernet, optim: OptimConfig, settings: SupernetSettings,
                 steps_per_epoch: int, seed: int) -> None:
        self.supernet = supernet
        self.settings = settings
        self.seed = seed
        self.steps = steps_per_epoch
        self.opt = optimizer(supernet, optim)
        total = settings.epochs * steps_per_epoch
        self.sched = build_scheduler(self.opt, optim, total, steps_per_epoch)
        self.progress = Progress()
        self.nets: dict[str, nn.Module] = {}  # meta networks by point (sampling repeats)

    def state_dict(self) -> dict[str, Any]:
        return {"supernet": self.supernet.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(), "epoch": self.progress.epoch,
                "losses": list(self.progress.losses)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.progress = Progress(int(state["epoch"]), [float(v) for v in state["losses"]])

    @property
    def done(self) -> bool:
        return self.progress.epoch >= self.settings.epochs

    def net(self, point: dict[str, Any]) -> nn.Module | None:
        key = repr(sorted(point.items()))
        if key not in self.nets:
            if len(self.nets) > 512:
                self.nets.clear()
            net = try_meta(self.supernet.models, point)
            if net is None:
                return None
            self.nets[key] = net
        return self.nets[key]

    def train_epoch(self, batches: Batches, on_step: Callable[[], None] | None = None) -> float:
        """One epoch; returns the largest networks' mean loss."""
        epoch = self.progress.epoch
        s = epoch_seed(self.seed, epoch)
        torch.manual_seed(s)  # augmentation draws from torch's global generator
        rng = random.Random(s)
        total, count = 0.0, 0
        self.supernet.train()
        for step, (x, y) in enumerate(batches(epoch)):
            if step >= self.steps:
                break
            total += self.step(x, y, (epoch * self.steps + step) % len(self.supernet.branches),
                               rng)
            count += 1
            if on_step is not None:
                on_step()
        self.progress.epoch += 1
        mean = total / max(count, 1)
        self.progress.losses.append(mean)
        return mean

    def step(self, x: torch.Tensor, y: torch.Tensor, index: int, rng: random.Random) -> float:
        b = self.supernet.branches[index]
        shared = self.supernet.shared(index)
        self.opt.zero_grad(set_to_none=True)
        largest = self.net(b.largest)
        assert largest is not None  # corners that build are the only ones kept
        largest.train()
        # the largest network's batch-norm statistics are kept (views): the supernet's own
        logits = forward(largest, sliced(shared, largest), x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        soft = F.softmax(logits.detach(), dim=1)
        space = self.supernet.space
        others = [b.smallest, *(draw(space, b.branch, rng)
                                for _ in range(self.settings.sandwich_random))]
        for point in others:
            net = self.net(point)
            if net is None:  # a random point that is no valid network: skipped
                continue
            net.train()
            out = forward(net, sliced(shared, net, copy_buffers=True), x)
            if self.settings.distill:
                sub = -(soft * F.log_softmax(out, dim=1)).sum(1).mean()
            else:
                sub = F.cross_entropy(out, y)
            sub.backward()
        self.opt.step()
        self.sched.step()
        return float(loss.detach())
