"""ResNet blocks.

- `basic`, `bottleneck`: He et al. 2015, "Deep Residual Learning for Image Recognition"
  (Fig. 2 and Fig. 5). The bottleneck strides on its 3x3 by default (torchvision's "v1.5");
  `stride_on: 1x1` gives the paper's original placement. `groups` / `width_per_group` give
  ResNeXt (Xie et al. 2017); `inner_channels` sets the bottleneck width directly.
- `preact_basic`, `preact_bottleneck`: He et al. 2016, "Identity Mappings in Deep Residual
  Networks" (ResNet v2): norm and activation before each conv, nothing after the addition.

Blocks take `shortcut` (a SHORTCUTS key) used where the shape changes; `shortcut_always`
uses it on every block (option C).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from archforge import BLOCKS, OptionError, make_act, make_norm, make_shortcut
from archforge.model.layers import check_groups, conv

from .checks import at_least


def bottleneck_width(
    out_channels: int, expansion: int, groups: int, width_per_group: int, inner: int | None
) -> int:
    """The 3x3's width: out / expansion scaled by ResNeXt's groups x width_per_group / 64.

    Every input is checked before anything is derived from it, so an error names the option
    the user set, never a quantity computed from another one.
    """
    at_least("expansion", expansion)
    at_least("groups", groups)
    at_least("width_per_group", width_per_group)
    if inner is not None:
        at_least("inner_channels", inner)
        return inner
    width = int(out_channels // expansion * (width_per_group / 64.0)) * groups
    if width < 1:
        raise OptionError(
            "expansion", expansion, f"leaves no inner channels for {out_channels} outputs"
        )
    return width


def _strides(stride: int, stride_on: str) -> tuple[int, int]:
    """(1x1 stride, 3x3 stride) of a bottleneck."""
    if stride_on not in ("3x3", "1x1"):
        raise OptionError("stride_on", stride_on, "expected '3x3' or '1x1'")
    return (stride, 1) if stride_on == "1x1" else (1, stride)


class _Residual(nn.Module):
    """out = act(body(x) + shortcut(x)); `shortcut is None` makes the plain counterpart."""

    shortcut: nn.Module | None
    act: nn.Module
    final_norm = "bn2"  # the norm that closes the residual branch (zero-initialised on request)
    residual = True  # False in the plain counterparts (plugins/plain.py)

    def __init__(self, out_channels: int, zero_init_residual: bool) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.zero_init_residual = zero_init_residual

    def init_weights(self) -> None:
        # Goyal et al. 2017: each residual branch starts at zero, so the block starts as identity.
        weight = getattr(getattr(self, self.final_norm), "weight", None)
        if self.zero_init_residual and isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def make_shortcut(
        self, kind: str, cin: int, cout: int, stride: int, norm: str, always: bool
    ) -> nn.Module | None:
        return make_shortcut(kind, cin, cout, stride, norm, always) if self.residual else None

    def body(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act(out)


@BLOCKS.register("basic")
class BasicBlock(_Residual):
    """3x3 -> norm -> act -> 3x3 -> norm, plus the shortcut, then act."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "projection",
        shortcut_always: bool = False,
        groups: int = 1,
        norm: str = "batch",
        act: str = "relu",
        zero_init_residual: bool = False,
    ):
        at_least("stride", stride)
        super().__init__(out_channels, zero_init_residual)
        self.conv1 = conv(in_channels, out_channels, 3, stride, groups=groups)
        self.bn1 = make_norm(norm, out_channels)
        self.act = make_act(act)
        self.conv2 = conv(out_channels, out_channels, 3, groups=groups)
        self.bn2 = make_norm(norm, out_channels)
        self.shortcut = self.make_shortcut(
            shortcut, in_channels, out_channels, stride, norm, shortcut_always
        )

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


@BLOCKS.register("bottleneck")
class Bottleneck(_Residual):
    """1x1 reduce -> 3x3 (grouped) -> 1x1 expand, each with norm; shortcut; act."""

    final_norm = "bn3"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "projection",
        shortcut_always: bool = False,
        expansion: int = 4,
        groups: int = 1,
        width_per_group: int = 64,
        inner_channels: int | None = None,
        stride_on: Literal["3x3", "1x1"] = "3x3",
        norm: str = "batch",
        act: str = "relu",
        zero_init_residual: bool = False,
    ):
        at_least("stride", stride)
        super().__init__(out_channels, zero_init_residual)
        width = bottleneck_width(out_channels, expansion, groups, width_per_group, inner_channels)
        check_groups(width, width, groups)
        s1, s3 = _strides(stride, stride_on)
        self.conv1 = conv(in_channels, width, 1, s1)
        self.bn1 = make_norm(norm, width)
        self.conv2 = conv(width, width, 3, s3, groups=groups)
        self.bn2 = make_norm(norm, width)
        self.conv3 = conv(width, out_channels, 1)
        self.bn3 = make_norm(norm, out_channels)
        self.act = make_act(act)
        self.shortcut = self.make_shortcut(
            shortcut, in_channels, out_channels, stride, norm, shortcut_always
        )

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class _PreAct(nn.Module):
    """Shared forward of v2 blocks: the shortcut sees the raw input when it is parameter-free
    (a clean identity path) and the pre-activated input when it projects (He et al. 2016)."""

    def __init__(self, out_channels: int, norm: str, act: str, kind: str, cin: int, stride: int,
                 always: bool) -> None:
        at_least("stride", stride)
        super().__init__()
        self.out_channels = out_channels
        self.bn1 = make_norm(norm, cin)
        self.act = make_act(act)
        self.shortcut = make_shortcut(kind, cin, out_channels, stride, "none", always)
        self.project_preact = any(True for _ in self.shortcut.parameters())

    def residual(self, pre: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act(self.bn1(x))
        skip = self.shortcut(pre if self.project_preact else x)
        return self.residual(pre) + skip


@BLOCKS.register("preact_basic")
class PreActBasicBlock(_PreAct):
    """norm -> act -> 3x3 -> norm -> act -> 3x3, plus the shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "projection",
        shortcut_always: bool = False,
        groups: int = 1,
        norm: str = "batch",
        act: str = "relu",
    ):
        super().__init__(out_channels, norm, act, shortcut, in_channels, stride, shortcut_always)
        self.conv1 = conv(in_channels, out_channels, 3, stride, groups=groups)
        self.bn2 = make_norm(norm, out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, groups=groups)

    def residual(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.bn2(self.conv1(pre))))


@BLOCKS.register("preact_bottleneck")
class PreActBottleneck(_PreAct):
    """norm-act-1x1, norm-act-3x3, norm-act-1x1, plus the shortcut.

    `stride_on: 1x1` strides on the first 1x1 of a downsampling unit, as the authors' code
    does (He et al.'s resnet-1k-layers, `resnet-pre-act.lua`); `3x3` as torchvision's v1.5.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "projection",
        shortcut_always: bool = False,
        expansion: int = 4,
        groups: int = 1,
        width_per_group: int = 64,
        inner_channels: int | None = None,
        stride_on: Literal["3x3", "1x1"] = "3x3",
        norm: str = "batch",
        act: str = "relu",
    ):
        width = bottleneck_width(out_channels, expansion, groups, width_per_group, inner_channels)
        super().__init__(out_channels, norm, act, shortcut, in_channels, stride, shortcut_always)
        check_groups(width, width, groups)
        s1, s3 = _strides(stride, stride_on)
        self.conv1 = conv(in_channels, width, 1, s1)
        self.bn2 = make_norm(norm, width)
        self.conv2 = conv(width, width, 3, s3, groups=groups)
        self.bn3 = make_norm(norm, width)
        self.conv3 = conv(width, out_channels, 1)

    def residual(self, pre: torch.Tensor) -> torch.Tensor:
        out = self.conv1(pre)
        out = self.conv2(self.act(self.bn2(out)))
        return self.conv3(self.act(self.bn3(out)))
