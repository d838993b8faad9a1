"""Optimizer and learning-rate schedule from the `optim` config group.

Schedules are one `LambdaLR` over optimizer steps: linear warm-up (Goyal et al. 2017), then
constant, step (He et al. 2015: /10 at fixed fractions of training) or cosine (Loshchilov &
Hutter 2017). One lambda, rather than chained schedulers, keeps checkpoints plain data
(loadable with `weights_only=True`) and lets fine-tuning scale the rate mid-run.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from archforge.config.sections import OptimConfig


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool) -> list[dict]:
    """Split parameters so that norm weights and biases can skip weight decay.

    Decaying BN scales and biases only shrinks them without regularising the function much
    (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 5.1 remarks), so it is optional.
    Frozen parameters are kept in the groups: they get no gradient, so no update, and
    fine-tuning can unfreeze them without touching the optimizer.
    """
    if decay_norm_and_bias or weight_decay == 0:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in model.modules():
        is_norm = isinstance(module, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm)
        for name, param in module.named_parameters(recurse=False):
            (no_decay if is_norm or name == "bias" else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay, cfg.decay_norm_and_bias)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    return torch.optim.SGD(
        groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0
    )


class Schedule:
    """lr multiplier at optimizer step `step` of `total`; `scale` is set by fine-tuning.

    Its `__dict__` (numbers and a list) is what `LambdaLR.state_dict` saves.
    """

    def __init__(self, cfg: OptimConfig, total_steps: int, steps_per_epoch: float) -> None:
        self.kind = cfg.schedule
        self.total = max(1, int(total_steps))
        self.warmup = min(self.total - 1, round(cfg.warmup_epochs * steps_per_epoch))
        self.milestones = [int(m * self.total) for m in cfg.milestones]
        self.gamma = cfg.gamma
        self.min_factor = cfg.min_lr_factor
        self.scale = 1.0

    def __call__(self, step: int) -> float:
        return self.scale * self.base(step)

    def base(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if self.kind == "step":
            return self.gamma ** sum(step >= m for m in self.milestones)
        if self.kind == "cosine":
            progress = (step - self.warmup) / max(1, self.total - self.warmup)
            cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
            return self.min_factor + (1.0 - self.min_factor) * cos
        return 1.0


def warmup_epochs(cfg: OptimConfig) -> int:
    """The epochs that hold warm-up steps, a started one counted whole: no pruner judges a
    trial on them (archforge/search/trial/callback.py)."""
    return max(0, math.ceil(cfg.warmup_epochs))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int, steps_per_epoch: float
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, Schedule(cfg, total_steps, steps_per_epoch)
    )

