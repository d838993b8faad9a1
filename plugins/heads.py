"""Heads: `Head(in_channels, num_classes, **options)` -> logits.

- `classifier`: global average pool -> dropout -> linear (Lin et al. 2014, "Network in
  Network"; used by ResNet, GoogLeNet, Inception-v3, Xception, MobileNet). `pre_norm` adds the
  final norm + activation that pre-activation ResNets need (He et al. 2016).
- `vgg`: the fully connected head of Simonyan & Zisserman 2015 (two hidden layers of 4096).
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import HEADS, OptionError, make_act, make_norm


@HEADS.register("classifier")
class ClassifierHead(nn.Module):
    """[norm -> act] -> global average pool -> dropout -> linear."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        dropout: float = 0.0,
        pre_norm: bool = False,
        norm: str = "batch",
        act: str = "relu",
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise OptionError("dropout", dropout, "expected a probability in [0, 1)")
        self.norm = make_norm(norm, in_channels) if pre_norm else nn.Identity()
        self.act = make_act(act) if pre_norm else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.norm(x))).flatten(1)
        return self.fc(self.drop(x))


@HEADS.register("vgg")
class VGGHead(nn.Module):
    """adaptive avg-pool to pool_size^2 -> [linear -> ReLU -> dropout] x2 -> linear."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 4096,
        dropout: float = 0.5,
        pool_size: int = 7,
    ):
        super().__init__()
        if hidden < 1:
            raise OptionError("hidden", hidden, "expected an integer >= 1")
        if not 0.0 <= dropout < 1.0:
            raise OptionError("dropout", dropout, "expected a probability in [0, 1)")
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Sequential(
            nn.Linear(in_channels * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))
