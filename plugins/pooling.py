"""Pooling between stages (GoogLeNet and Inception place max-pools between module groups).

Registered as blocks so a stage list can hold them: `{block: maxpool, stride: 2}`. One
implementation serves both kinds; only the torch pooling layer and the default window differ.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import BLOCKS, OptionError

from .checks import at_least, padding


class _Pool(nn.Module):
    """`kernel_size` window at the stage's stride, optional padding and ceil mode."""

    kind: type[nn.MaxPool2d] | type[nn.AvgPool2d]

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None,
        stride: int,
        kernel_size: int,
        padding_: int,
        ceil_mode: bool,
    ) -> None:
        super().__init__()
        at_least("stride", stride)
        at_least("kernel_size", kernel_size)
        padding("padding", padding_, kernel_size)
        if out_channels not in (None, in_channels):
            raise OptionError("out_channels", out_channels, f"pooling keeps {in_channels} channels")
        self.pool = self.kind(kernel_size, stride, padding_, ceil_mode=ceil_mode)
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


@BLOCKS.register("maxpool")
class MaxPool(_Pool):
    """Max-pool with kernel_size (default 3) and the stage's stride."""

    kind = nn.MaxPool2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        kernel_size: int = 3,
        padding: int = 0,
        ceil_mode: bool = False,
    ):
        super().__init__(in_channels, out_channels, stride, kernel_size, padding, ceil_mode)


@BLOCKS.register("avgpool")
class AvgPool(_Pool):
    """Average-pool with kernel_size (default 2) and the stage's stride."""

    kind = nn.AvgPool2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        kernel_size: int = 2,
        padding: int = 0,
        ceil_mode: bool = False,
    ):
        super().__init__(in_channels, out_channels, stride, kernel_size, padding, ceil_mode)
