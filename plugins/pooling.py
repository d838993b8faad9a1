"""Pooling between stages (GoogLeNet and Inception place max-pools between module groups).

Registered as blocks so a stage list can hold them: `{block: maxpool, stride: 2}`.
"""

from __future__ import annotations

from torch import nn

from archforge import BLOCKS, OptionError


def _keep(in_channels: int, out_channels: int | None) -> int:
    if out_channels not in (None, in_channels):
        raise OptionError("out_channels", out_channels, f"pooling keeps {in_channels} channels")
    return in_channels


@BLOCKS.register("maxpool")
class MaxPool(nn.MaxPool2d):
    """Max-pool with kernel_size (default 3) and the stage's stride."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        kernel_size: int = 3,
        padding: int = 0,
        ceil_mode: bool = False,
    ):
        if kernel_size < 1 or not 0 <= padding <= kernel_size // 2:
            raise OptionError("padding", padding, f"expected 0..{kernel_size // 2}")
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        self.out_channels = _keep(in_channels, out_channels)


@BLOCKS.register("avgpool")
class AvgPool(nn.AvgPool2d):
    """Average-pool with kernel_size (default 2) and the stage's stride."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        kernel_size: int = 2,
        padding: int = 0,
        ceil_mode: bool = False,
    ):
        if kernel_size < 1 or not 0 <= padding <= kernel_size // 2:
            raise OptionError("padding", padding, f"expected 0..{kernel_size // 2}")
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        self.out_channels = _keep(in_channels, out_channels)
