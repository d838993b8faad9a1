"""`conv`: one plain convolution stage, conv -> [norm] -> act -> [pool].

The building unit of the networks before batch norm and shortcuts: LeNet-5 (LeCun et al.
1998, "Gradient-Based Learning Applied to Document Recognition": 5x5 convs, each followed by
2x2 subsampling) and AlexNet (Krizhevsky et al. 2012: 11x11/4, 5x5 and 3x3 convs, some
followed by 3x3/2 overlapping max-pools). Also the 1x1 conv that closes Inception-ResNet-v2
before its classifier. The stage's stride is the convolution's; the pool has its own.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from archforge import BLOCKS, ConvNormAct

from .checks import at_least, odd_kernel, padding


@BLOCKS.register("conv")
class ConvStage(nn.Module):
    """conv kxk (stage stride) -> norm -> act -> optional max/avg pool.

    `padding: null` pads by k // 2 ("same" for odd kernels); an explicit padding allows any
    kernel (AlexNet's 11x11 with padding 2, LeNet's unpadded 5x5). `bias: null` adds a bias
    only where no norm follows. `pool_stride: null` pools in non-overlapping windows.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 3,
        padding: int | None = None,
        bias: bool | None = None,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-5,
        pool: Literal["none", "max", "avg"] = "none",
        pool_size: int = 2,
        pool_stride: int | None = None,
        pool_padding: int = 0,
    ) -> None:
        super().__init__()
        _check(stride, kernel_size, padding, pool_size, pool_stride, pool_padding)
        self.conv = ConvNormAct(
            in_channels, out_channels, kernel_size, stride, padding, norm=norm, act=act, eps=eps,
            bias=bias,
        )
        ps = pool_size if pool_stride is None else pool_stride
        self.pool: nn.Module = nn.Identity()
        if pool == "max":
            self.pool = nn.MaxPool2d(pool_size, ps, pool_padding)
        elif pool == "avg":
            self.pool = nn.AvgPool2d(pool_size, ps, pool_padding)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


def _check(
    stride: int,
    kernel_size: int,
    pad: int | None,
    pool_size: int,
    pool_stride: int | None,
    pool_padding: int,
) -> None:
    at_least("stride", stride)
    if pad is None:
        odd_kernel("kernel_size", kernel_size)
    else:
        at_least("kernel_size", kernel_size)
        padding("padding", pad, kernel_size)
    at_least("pool_size", pool_size)
    if pool_stride is not None:
        at_least("pool_stride", pool_stride)
    # Checked even without a pool: a bad value would otherwise surface only once one is added.
    padding("pool_padding", pool_padding, pool_size)
