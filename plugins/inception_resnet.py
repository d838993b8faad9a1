"""Inception-ResNet block: Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact
of Residual Connections on Learning" (Fig. 16-19 for Inception-ResNet-v2).

Parallel conv branches are concatenated, projected back to the input width by a linear 1x1
conv (bias, no norm: "1x1 conv (no activation)" in the paper's figures), scaled down and
added to the input, then activated. The defaults are Inception-ResNet-A of v2 (Fig. 16):

    branches: [[32], [32, 32], [32, 48, 64]]    kernel_size: 3

Each branch is a 1x1 conv followed by kxk convs of the listed widths. `factorize: true`
replaces each kxk by alternating 1xk and kx1 convs, which gives the B and C blocks:

    B (Fig. 17): branches: [[192], [128, 160, 192]], kernel_size: 7, factorize: true
    C (Fig. 19): branches: [[192], [192, 224, 256]], kernel_size: 3, factorize: true

`inception_resnet_a`, `_b`, `_c` register exactly these (the released model's block35,
block17 and block8) with their residual scales 0.17, 0.10 and 0.20.
`inception_resnet_reduction_b` is the 17 -> 8 reduction of Fig. 18; the 35 -> 17 one is
`inception_v4_reduction_a` with Table 1's widths.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from archforge import BLOCKS, ConvNormAct, OptionError, make_act
from archforge.model.layers import conv

from .checks import width_list
from .inception_parts import Concat, InceptionModule


@BLOCKS.register("inception_resnet")
class InceptionResNet(nn.Module):
    """out = final_act(x + scale * proj(concat(branches(x))))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        branches: tuple[tuple[int, ...], ...] = ((32,), (32, 32), (32, 48, 64)),
        kernel_size: int = 3,
        factorize: bool = False,
        scale: float = 0.17,
        norm: str = "batch",
        act: str = "relu",
        final_act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if out_channels not in (None, in_channels):
            raise OptionError(
                "out_channels",
                out_channels,
                f"an Inception-ResNet block adds its input, so it keeps {in_channels} channels "
                "(set null or change the previous stage)",
            )
        if stride != 1:
            raise OptionError("stride", stride, "an Inception-ResNet block always has stride 1")
        if not branches or any(not b or any(w < 1 for w in b) for b in branches):
            raise OptionError(
                "branches", branches, "expected a non-empty list of non-empty lists of widths >= 1"
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise OptionError("kernel_size", kernel_size, "expected an odd integer >= 1")
        if not math.isfinite(scale):
            raise OptionError("scale", scale, "expected a finite number")

        def cna(cin: int, cout: int, kernel: int | tuple[int, int]) -> ConvNormAct:
            return ConvNormAct(cin, cout, kernel, norm=norm, act=act, eps=eps)

        k = kernel_size
        paths: list[nn.Module] = []
        for widths in branches:
            layers: list[nn.Module] = [cna(in_channels, widths[0], 1)]
            for i, (cin, cout) in enumerate(itertools.pairwise(widths)):
                kernel = ((1, k) if i % 2 == 0 else (k, 1)) if factorize else k
                layers.append(cna(cin, cout, kernel))
            paths.append(nn.Sequential(*layers))
        self.branches = nn.ModuleList(paths)
        # Linear on purpose: a norm or activation here would distort the residual it adds.
        self.proj = conv(sum(b[-1] for b in branches), in_channels, 1, bias=True)
        # Sec. 3.3: scaling the residual (0.1-0.3) keeps wide blocks from destabilising training.
        self.scale = scale
        self.act = make_act(final_act, "final_act")
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.act(x + self.scale * self.proj(mixed))


Branches = tuple[tuple[int, ...], ...]


@BLOCKS.register("inception_resnet_a")
class InceptionResNetA(InceptionResNet):
    """35x35 Inception-ResNet-A of v2 (Fig. 16, "block35"): 1x1 | 1x1-3x3 | 1x1-3x3-3x3."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        branches: Branches = ((32,), (32, 32), (32, 48, 64)),
        scale: float = 0.17,
        final_act: str = "relu",
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, branches, 3, False, scale, norm,
                         act, final_act, eps)


@BLOCKS.register("inception_resnet_b")
class InceptionResNetB(InceptionResNet):
    """17x17 Inception-ResNet-B of v2 (Fig. 17, "block17"): 1x1 | 1x1-1x7-7x1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        branches: Branches = ((192,), (128, 160, 192)),
        scale: float = 0.10,
        final_act: str = "relu",
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, branches, 7, True, scale, norm,
                         act, final_act, eps)


@BLOCKS.register("inception_resnet_c")
class InceptionResNetC(InceptionResNet):
    """8x8 Inception-ResNet-C of v2 (Fig. 19, "block8"): 1x1 | 1x1-1x3-3x1. The released
    model ends with one more such block at scale 1.0 and no final activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        branches: Branches = ((192,), (192, 224, 256)),
        scale: float = 0.20,
        final_act: str = "relu",
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, branches, 3, True, scale, norm,
                         act, final_act, eps)


@BLOCKS.register("inception_resnet_reduction_b")
class InceptionResNetReductionB(InceptionModule):
    """17 -> 8 (Fig. 18): 1x1 -> 3x3/2 | 1x1 -> 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max-pool 3x3/2.

    Each option lists a branch's widths, its 1x1 reduction first (v2's defaults).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        b3x3a: tuple[int, ...] = (256, 384),
        b3x3b: tuple[int, ...] = (256, 288),
        b3x3dbl: tuple[int, ...] = (256, 288, 320),
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        if stride != 2:
            raise OptionError("stride", stride, "a grid reduction always has stride 2")
        width_list("b3x3a", b3x3a, 2)
        width_list("b3x3b", b3x3b, 2)
        width_list("b3x3dbl", b3x3dbl, 3)
        branches: dict[str, nn.Module] = {
            "b3x3a": nn.Sequential(
                self.cna(in_channels, b3x3a[0], 1), self.cna(b3x3a[0], b3x3a[1], 3, 2, 0)
            ),
            "b3x3b": nn.Sequential(
                self.cna(in_channels, b3x3b[0], 1), self.cna(b3x3b[0], b3x3b[1], 3, 2, 0)
            ),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, b3x3dbl[0], 1),
                self.cna(b3x3dbl[0], b3x3dbl[1], 3),
                self.cna(b3x3dbl[1], b3x3dbl[2], 3, 2, 0),
            ),
            "pool": nn.MaxPool2d(3, 2),
        }
        widths = {"b3x3a": b3x3a[1], "b3x3b": b3x3b[1], "b3x3dbl": b3x3dbl[2],
                  "pool": in_channels}
        self.finish(Concat(branches, widths), out_channels)
