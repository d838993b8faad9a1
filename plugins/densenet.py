"""Densely connected blocks: Huang et al. 2017, "Densely Connected Convolutional Networks".

- `dense_block`: `layers` dense layers; each sees the concatenation of the block's input and
  every earlier layer's output and adds `growth_rate` channels (Sec. 3, Eq. 2). With
  `bn_size` > 0 each layer is DenseNet-B's BN-ReLU-1x1 (bn_size * growth_rate) -> BN-ReLU-3x3
  (Sec. 3, "Bottleneck layers"); `bn_size: 0` gives the plain BN-ReLU-3x3 layer.
- `dense_transition`: BN-ReLU-1x1 conv -> 2x2 average pool between dense blocks; the 1x1
  keeps `compression` of the channels (DenseNet-C, theta = 0.5 in the paper).

The layout and names follow torchvision's `densenet.py` (norm1/conv1/norm2/conv2 per layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archforge import BLOCKS, OptionError, make_act, make_norm
from archforge.model.layers import conv

from .checks import at_least, positive, probability


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 -> BN-ReLU-3x3 producing `growth_rate` new channels (not concatenated)."""

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        bn_size: int,
        dropout: float,
        norm: str,
        act: str,
    ) -> None:
        super().__init__()
        self.act = make_act(act)
        inner = in_channels
        if bn_size > 0:
            inner = bn_size * growth_rate
            self.norm1 = make_norm(norm, in_channels)
            self.conv1 = conv(in_channels, inner, 1)
        self.norm2 = make_norm(norm, inner)
        self.conv2 = conv(inner, growth_rate, 3)
        self.dropout = dropout
        self.bn_size = bn_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bn_size > 0:
            x = self.conv1(self.act(self.norm1(x)))
        out = self.conv2(self.act(self.norm2(x)))
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, self.training)
        return out


@BLOCKS.register("dense_block")
class DenseBlock(nn.Module):
    """`layers` dense layers; output = input channels + layers * growth_rate (stride 1)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        layers: int = 6,
        growth_rate: int = 32,
        bn_size: int = 4,
        dropout: float = 0.0,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        if stride != 1:
            raise OptionError(
                "stride", stride, "a dense block keeps its resolution; downsample with "
                "dense_transition"
            )
        at_least("layers", layers)
        at_least("growth_rate", growth_rate)
        at_least("bn_size", bn_size, 0)
        probability("dropout", dropout)
        produced = in_channels + layers * growth_rate
        if out_channels not in (None, produced):
            raise OptionError(
                "out_channels", out_channels,
                f"{layers} layers of growth_rate {growth_rate} on {in_channels} input channels "
                f"give {produced} (set null, or change layers / growth_rate)",
            )
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, dropout, norm, act)
            for i in range(layers)
        )
        self.out_channels = produced

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


@BLOCKS.register("dense_transition")
class DenseTransition(nn.Sequential):
    """BN -> ReLU -> 1x1 conv -> average pool by the stage's stride (2 in DenseNet)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        compression: float = 0.5,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        at_least("stride", stride)
        positive("compression", compression)
        if compression > 1:
            raise OptionError("compression", compression, "expected a number in (0, 1]")
        out = out_channels if out_channels is not None else int(in_channels * compression)
        if out < 1:
            raise OptionError(
                "compression", compression, f"leaves no channels of {in_channels}"
            )
        super().__init__()
        self.norm = make_norm(norm, in_channels)
        self.act = make_act(act)
        self.conv = conv(in_channels, out, 1)
        self.pool: nn.Module = nn.AvgPool2d(stride, stride) if stride > 1 else nn.Identity()
        self.out_channels = out
