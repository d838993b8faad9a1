"""Depthwise-separable convolution blocks.

- `separable`: a depthwise kxk convolution (one filter per input channel) followed by a
  pointwise 1x1 (Chollet 2017, "Xception: Deep Learning with Depthwise Separable
  Convolutions"; Howard et al. 2017, "MobileNets", Sec. 3.1). `mid_norm` puts norm and
  activation between the two, as MobileNet does; Xception has none there.
- `mobilenet`: the MobileNet v1 layer (Howard et al. 2017, Fig. 3): 3x3 depthwise -> BN ->
  ReLU -> 1x1 pointwise -> BN -> ReLU. `act: relu6` gives the ReLU6 of later releases.
- `xception`: one Xception module (Chollet 2017, Fig. 5): ReLU -> separable conv -> BN,
  repeated `reps` times, then a 3x3/2 max-pool where the module strides, plus
  a shortcut (a strided 1x1 projection in the entry and exit flows, the identity in the
  middle flow). Nothing follows the addition: the next module starts with its own ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import BLOCKS, ConvNormAct, OptionError, make_act, make_norm, make_shortcut
from archforge.model.layers import conv

from .checks import at_least


def _check_kernel(kernel_size: int) -> None:
    # `conv` pads by k // 2, which keeps the "same" size only for odd kernels.
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise OptionError("kernel_size", kernel_size, "expected an odd integer >= 1")


def _check_multiplier(depth_multiplier: int) -> None:
    if depth_multiplier < 1:
        raise OptionError("depth_multiplier", depth_multiplier, "expected an integer >= 1")


class SeparableConv(nn.Sequential):
    """depthwise kxk -> pointwise 1x1 with no norm or activation: Xception's `SeparableConv`.

    Both convolutions go without bias when a norm follows, since the norm's shift replaces it.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 3,
        depth_multiplier: int = 1,
        bias: bool = False,
    ) -> None:
        _check_kernel(kernel_size)
        _check_multiplier(depth_multiplier)
        mid = in_channels * depth_multiplier
        super().__init__()
        self.depthwise = conv(in_channels, mid, kernel_size, stride, groups=in_channels)
        self.pointwise = conv(mid, out_channels, 1, bias=bias)
        self.out_channels = out_channels


@BLOCKS.register("separable")
class Separable(nn.Module):
    """depthwise kxk (stride) [-> norm -> act] -> pointwise 1x1 -> norm -> act."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 3,
        mid_norm: bool = True,
        norm: str = "batch",
        act: str = "relu",
        depth_multiplier: int = 1,
    ) -> None:
        super().__init__()
        at_least("stride", stride)
        _check_kernel(kernel_size)
        _check_multiplier(depth_multiplier)
        mid = in_channels * depth_multiplier
        self.depthwise: nn.Module
        if mid_norm:
            self.depthwise = ConvNormAct(
                in_channels, mid, kernel_size, stride, groups=in_channels, norm=norm, act=act
            )
        else:
            # Chollet 2017 (Fig. 10) found an activation between depthwise and pointwise
            # hurts; without a norm there, a bias would be folded into the pointwise anyway.
            self.depthwise = conv(in_channels, mid, kernel_size, stride, groups=in_channels)
        self.pointwise = ConvNormAct(mid, out_channels, 1, norm=norm, act=act)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


@BLOCKS.register("mobilenet")
class MobileNetBlock(Separable):
    """3x3 depthwise (stride) -> norm -> act -> 1x1 pointwise -> norm -> act.

    ReLU by default, as in the paper (Fig. 3, Table 1); `act: relu6` gives the bounded
    activation of the released TensorFlow models, friendlier to low-precision inference.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
        depth_multiplier: int = 1,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            stride,
            kernel_size=3,
            mid_norm=True,
            norm=norm,
            act=act,
            depth_multiplier=depth_multiplier,
        )


@BLOCKS.register("xception")
class XceptionModule(nn.Module):
    """[act -> separable conv -> norm] per width -> optional max-pool, plus the shortcut.

    `reps` separable convs; all of width `out_channels` (`grow_first`, entry and middle flows),
    or all but the last of width `in_channels` (the exit flow's 728 -> 1024 module).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        reps: int = 3,
        grow_first: bool = True,
        relu_first: bool = True,
        pool: bool | None = None,
        shortcut: str = "projection",
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        if reps < 1:
            raise OptionError("reps", reps, "expected an integer >= 1")
        # Widths follow from in/out channels (Chollet's "grow first" or, in the exit flow, grow
        # last), so the model's width multiplier scales them with everything else.
        widths = [out_channels] * reps
        if not grow_first:
            widths = [in_channels] * (reps - 1) + [out_channels]
        if stride < 1:
            raise OptionError("stride", stride, "expected an integer >= 1")
        use_pool = stride > 1 if pool is None else pool
        # Without the pool the stride moves onto the last depthwise conv, so every
        # separable conv still sees the same resolution as in the pooled module.
        conv_stride = 1 if use_pool else stride
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            if i > 0 or relu_first:
                a = make_act(act)
                if i == 0 and hasattr(a, "inplace"):
                    # The first activation sees the module's input, which the shortcut
                    # still needs unchanged.
                    a.inplace = False  # type: ignore[assignment]
                layers.append(a)
            last = i == len(widths) - 1
            layers.append(
                SeparableConv(channels, width, conv_stride if last else 1, bias=norm == "none")
            )
            layers.append(make_norm(norm, width))
            channels = width
        if use_pool:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.branch = nn.Sequential(*layers)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, norm)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x) + self.shortcut(x)
