"""Networks without shortcuts.

- `plain_basic`, `plain_bottleneck`: the residual blocks with the shortcut removed, for the
  plain-vs-residual comparison of He et al. 2015 (Fig. 4, Table 6).
- `vgg`: one VGG stage, n 3x3 convs (+ optional batch norm) then a 2x2 max-pool
  (Simonyan & Zisserman 2015, Table 1); the stage's stride is the pool's.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from archforge import BLOCKS, make_act, make_norm

from .checks import at_least
from .resnet import BasicBlock, Bottleneck


@BLOCKS.register("plain_basic")
class PlainBasicBlock(BasicBlock):
    """Two 3x3 convs with norm and activation, no shortcut."""

    residual = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        groups: int = 1,
        norm: str = "batch",
        act: str = "relu",
    ):
        super().__init__(in_channels, out_channels, stride, groups=groups, norm=norm, act=act)


@BLOCKS.register("plain_bottleneck")
class PlainBottleneck(Bottleneck):
    """1x1 -> 3x3 -> 1x1 with norm and activation, no shortcut."""

    residual = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        expansion: int = 4,
        groups: int = 1,
        width_per_group: int = 64,
        inner_channels: int | None = None,
        stride_on: Literal["3x3", "1x1"] = "3x3",
        norm: str = "batch",
        act: str = "relu",
    ):
        super().__init__(
            in_channels, out_channels, stride, expansion=expansion, groups=groups,
            width_per_group=width_per_group, inner_channels=inner_channels,
            stride_on=stride_on, norm=norm, act=act,
        )


@BLOCKS.register("vgg")
class VGGStage(nn.Sequential):
    """`convs` x (3x3 conv with bias -> [batch norm] -> ReLU), then max-pool by the stride."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 2,
        convs: int = 2,
        batch_norm: bool = False,
        act: str = "relu",
    ):
        at_least("stride", stride)
        at_least("convs", convs)
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(convs):
            layers.append(nn.Conv2d(channels, out_channels, 3, padding=1, bias=True))
            if batch_norm:
                layers.append(make_norm("batch", out_channels))
            layers.append(make_act(act))
            channels = out_channels
        if stride > 1:
            layers.append(nn.MaxPool2d(stride, stride))
        super().__init__(*layers)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)
