"""Stems: the layers before the first stage. `Stem(in_channels, out_channels=None, **options)`.

- `imagenet`: 7x7/2 conv + max-pool (He et al. 2015, Table 1).
- `cifar`: one 3x3 conv (He et al. 2015, Sec. 4.2).
- `conv`: one conv of any kernel and stride (MobileNet's 3x3/2, Howard et al. 2017).
- `googlenet`: 7x7/2, pool, 1x1, 3x3, pool (Szegedy et al. 2015, Table 1).
- `inception_v3`: the 299x299 stem of Szegedy et al. 2016, Table 1 (torchvision layout).
- `xception`: two 3x3 convs, the first strided (Chollet 2017, Fig. 5).
- `none`: the input as it is (VGG starts straight with its stages).
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import STEMS, ConvNormAct, OptionError, make_act, make_norm

from .checks import at_least, odd_kernel


def _fixed(name: str, out_channels: int | None, fixed: int) -> int:
    if out_channels not in (None, fixed):
        raise OptionError("out_channels", out_channels, f"the {name} stem always has {fixed}")
    return fixed


@STEMS.register("imagenet")
class ImageNetStem(nn.Module):
    """conv 7x7/2 -> norm -> act -> max-pool 3x3/2: input / 4."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = 64,
        kernel_size: int = 7,
        pool: bool = True,
        norm: str = "batch",
        act: str = "relu",
    ):
        super().__init__()
        odd_kernel("kernel_size", kernel_size)
        out = out_channels or 64
        self.conv = nn.Conv2d(in_channels, out, kernel_size, 2, kernel_size // 2, bias=False)
        self.bn = make_norm(norm, out)
        self.act = make_act(act)
        self.pool = nn.MaxPool2d(3, 2, 1) if pool else nn.Identity()
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.bn(self.conv(x))))


@STEMS.register("conv")
class ConvStem(ConvNormAct):
    """One conv -> norm -> act of any odd kernel size and stride.

    `bias: null` adds a bias only where no norm follows; `bias: false` omits it anyway.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = 32,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
        bias: bool | None = None,
    ):
        odd_kernel("kernel_size", kernel_size)
        at_least("stride", stride)
        super().__init__(
            in_channels, out_channels or 32, kernel_size, stride, norm=norm, act=act, bias=bias
        )


@STEMS.register("cifar")
class CifarStem(ConvStem):
    """3x3/1 conv -> norm -> act; `norm: none, act: none, bias: false` is the bare conv that
    starts a pre-activation network (He et al. 2016)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = 16,
        norm: str = "batch",
        act: str = "relu",
        bias: bool | None = None,
    ):
        super().__init__(in_channels, out_channels or 16, 3, 1, norm=norm, act=act, bias=bias)


@STEMS.register("googlenet")
class GoogLeNetStem(nn.Sequential):
    """conv 7x7/2 64, max-pool, conv 1x1 64, conv 3x3 192, max-pool (ceil mode): input / 8."""

    def __init__(self, in_channels: int, out_channels: int | None = None, eps: float = 1e-3):
        out = _fixed("googlenet", out_channels, 192)
        super().__init__(
            ConvNormAct(in_channels, 64, 7, 2, 3, eps=eps),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            ConvNormAct(64, 64, 1, eps=eps),
            ConvNormAct(64, out, 3, 1, 1, eps=eps),
            nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        self.out_channels = out


@STEMS.register("inception_v3")
class InceptionV3Stem(nn.Sequential):
    """299x299 -> 35x35x192: three 3x3 convs (the first /2), pool, 1x1 80, 3x3 192, pool."""

    def __init__(self, in_channels: int, out_channels: int | None = None, eps: float = 1e-3):
        out = _fixed("inception_v3", out_channels, 192)
        super().__init__(
            ConvNormAct(in_channels, 32, 3, 2, 0, eps=eps),
            ConvNormAct(32, 32, 3, 1, 0, eps=eps),
            ConvNormAct(32, 64, 3, 1, 1, eps=eps),
            nn.MaxPool2d(3, 2),
            ConvNormAct(64, 80, 1, eps=eps),
            ConvNormAct(80, out, 3, 1, 0, eps=eps),
            nn.MaxPool2d(3, 2),
        )
        self.out_channels = out


@STEMS.register("xception")
class XceptionStem(nn.Sequential):
    """conv 3x3/2 32 -> conv 3x3 64, unpadded, each with norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int | None = 64, norm: str = "batch"):
        out = out_channels or 64
        mid = max(1, out // 2)
        super().__init__(
            ConvNormAct(in_channels, mid, 3, 2, 0, norm=norm),
            ConvNormAct(mid, out, 3, 1, 0, norm=norm),
        )
        self.out_channels = out


@STEMS.register("none")
class NoStem(nn.Identity):
    """No stem: the first stage sees the input."""

    def __init__(self, in_channels: int, out_channels: int | None = None):
        super().__init__()
        if out_channels not in (None, in_channels):
            raise OptionError("out_channels", out_channels, "the none stem keeps in_channels")
        self.out_channels = in_channels
