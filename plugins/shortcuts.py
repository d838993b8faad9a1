"""Residual shortcuts (He et al. 2015, "Deep Residual Learning", Sec. 3.3 options A/B/C).

Each shortcut is built as `Shortcut(in_channels, out_channels, stride, norm=...)`. Blocks use
the identity wherever their shape is unchanged; the configured kind serves where it changes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archforge import SHORTCUTS, OptionError, make_norm


@SHORTCUTS.register("identity")
class Identity(nn.Module):
    """x -> x. Only valid where the block keeps its input's channels and resolution."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str = "batch"):
        super().__init__()
        if in_channels != out_channels or stride != 1:
            raise OptionError(
                "shortcut",
                "identity",
                f"an identity shortcut cannot map {in_channels} channels at stride {stride} "
                f"to {out_channels} channels; use projection or zero_pad",
            )
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@SHORTCUTS.register("projection")
class Projection(nn.Module):
    """Option B: a strided 1x1 convolution followed by a norm (no norm inside pre-activation
    blocks, He et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str = "batch"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
        self.bn = make_norm(norm, out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


@SHORTCUTS.register("zero_pad")
class ZeroPad(nn.Module):
    """Option A: subsample spatially by the stride and append zero channels. No parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str = "batch"):
        super().__init__()
        if out_channels < in_channels:
            raise OptionError(
                "shortcut",
                "zero_pad",
                f"zero padding can only add channels ({in_channels} -> {out_channels}); "
                "use projection",
            )
        self.stride = stride
        self.extra = out_channels - in_channels
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x
