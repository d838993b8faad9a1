"""The assembled network: stem -> stages of blocks -> head."""

from __future__ import annotations

import math

import torch
from torch import nn

from archforge.model.schema import ModelConfig


def default_init(module: nn.Module) -> None:
    """He et al. initialisation for convs (fan-out, as torchvision's ResNets), unit norms."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm) and module.affine:
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        bound = 1.0 / math.sqrt(module.in_features)
        nn.init.uniform_(module.weight, -bound, bound)
        if module.bias is not None:
            nn.init.uniform_(module.bias, -bound, bound)


class Network(nn.Module):
    """A network built from a `ModelConfig`; `config` is kept for checkpoints and export."""

    def __init__(
        self,
        stem: nn.Module,
        stages: list[nn.Sequential],
        head: nn.Module,
        config: ModelConfig,
        stage_names: list[str],
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stages: list[nn.Sequential] = nn.ModuleList(stages)  # type: ignore[assignment]
        self.head = head
        self.config = config
        self.stage_names = stage_names
        if any(not p.is_meta for p in self.parameters()):  # nothing to initialise on meta
            self.init_weights()

    def init_weights(self) -> None:
        """Default initialisation, then each plugin's own `init_weights` (e.g. zero-init)."""
        self.apply(default_init)
        for module in self.modules():
            hook = getattr(module, "init_weights", None)
            if callable(hook) and module is not self:
                hook()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))

