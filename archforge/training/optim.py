"""Optimizer and learning-rate schedule from the `optim` config group.

Schedules are one `LambdaLR` over optimizer steps: linear warm-up (Goyal et al. 2017), then
constant, step (He et al. 2015: /10 at fixed fractions of training) or cosine (Loshchilov &
Hutter 2017). One lambda, rather than chained schedulers, keeps checkpoints plain data
(loadable with `weights_only=True`) and lets fine-tuning scale the rate mid-run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from archforge.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "step", "cosine")


@dataclass
class OptimConfig:
    """The validated `optim` section."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decay_norm_and_bias: bool = True
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])
    gamma: float = 0.1
    min_lr_factor: float = 0.0


def parse_optim(data: Mapping[str, Any], path: str = "optim") -> OptimConfig:
    """Check names and ranges; every error names its `optim.*` key."""
    known = set(OptimConfig.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}.{key}", f"unknown key; known: {', '.join(sorted(known))}")
    cfg = OptimConfig(**{k: v for k, v in data.items()})
    cfg.name = str(cfg.name).lower()
    if cfg.name not in OPTIMIZERS:
        raise ConfigError(f"{path}.name", f"unknown optimizer {cfg.name!r}; known: sgd, adamw")
    if cfg.schedule not in SCHEDULES:
        raise ConfigError(
            f"{path}.schedule", f"got {cfg.schedule!r}; expected one of {', '.join(SCHEDULES)}"
        )
    checks = [
        ("lr", cfg.lr > 0, "a number > 0"),
        ("weight_decay", cfg.weight_decay >= 0, "a number >= 0"),
        ("momentum", 0 <= cfg.momentum < 1, "a number in [0, 1)"),
        ("warmup_epochs", cfg.warmup_epochs >= 0, "a number >= 0"),
        ("gamma", 0 < cfg.gamma <= 1, "a number in (0, 1]"),
        ("min_lr_factor", 0 <= cfg.min_lr_factor <= 1, "a number in [0, 1]"),
        ("milestones", all(0 < m < 1 for m in cfg.milestones), "fractions of training in (0, 1)"),
    ]
    for key, ok, accepted in checks:
        if not ok:
            raise ConfigError(f"{path}.{key}", f"got {getattr(cfg, key)!r}; expected {accepted}")
    cfg.lr, cfg.weight_decay = float(cfg.lr), float(cfg.weight_decay)
    cfg.milestones = sorted(float(m) for m in cfg.milestones)
    cfg.betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    return cfg


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool) -> list[dict]:
    """Split parameters so that norm weights and biases can skip weight decay.

    Decaying BN scales and biases only shrinks them without regularising the function much
    (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 5.1 remarks), so it is optional.
    Frozen parameters are kept in the groups: they get no gradient, so no update, and
    fine-tuning can unfreeze them without touching the optimizer.
    """
    if decay_norm_and_bias or weight_decay == 0:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    decay, no_decay = [], []
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


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int, steps_per_epoch: float
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, Schedule(cfg, total_steps, steps_per_epoch)
    )


def trainable(params: Iterable[nn.Parameter]) -> int:
    return sum(p.numel() for p in params if p.requires_grad)
