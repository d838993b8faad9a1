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
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from archforge import BLOCKS, ConvNormAct, OptionError, make_act
from archforge.model.layers import conv


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
