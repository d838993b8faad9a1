"""NAS-Bench-201's cell and residual reduction block (Dong & Yang, ICLR 2020, "NAS-Bench-201:
Extending the Scope of Reproducible Neural Architecture Search", Sec. 2 and Fig. 1).

- `nb201_cell`: a densely connected cell of 4 nodes. Node 0 is the input; node i (1..3) is
  the sum over j < i of op(i, j) applied to node j; node 3 is the output. Each of the six
  edges holds one of `none` (zeros), `skip_connect` (identity), `nor_conv_1x1`,
  `nor_conv_3x3` (ReLU -> conv -> BN) or `avg_pool_3x3` (stride 1, padding 1, padded
  positions not counted). Choose the edges with `arch`, NAS-Bench-201's string
  `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, or edge by edge with `edge_1_0` ... `edge_3_2`
  (edge_i_j: node j -> node i), which is how a search space picks them. The cell keeps its
  input's shape: it is a normal cell, the stride sits in the reduction block.
- `nb201_reduction`: the residual block between NAS-Bench-201's stages: ReLU-conv3x3/s-BN,
  ReLU-conv3x3-BN, plus a shortcut of 2x2 average pool then 1x1 conv at stride 2 (a 1x1
  ReLU-conv-BN when only the width changes, the identity otherwise), with no activation
  after the addition.

The whole network (conf/model/nb201.yaml): a 3x3 conv + BN stem of 16 channels, three stages
of 5 cells at 16 / 32 / 64 channels with a reduction block between them, then BN -> ReLU ->
global average pool -> linear.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import BLOCKS, OptionError, make_norm
from archforge.model.layers import conv

from .checks import at_least

# The operations in NAS-Bench-201's order (its table indexes them by this position).
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# The six edges (to node, from node) in the order of the arch string.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
EDGE_OPTIONS = tuple(f"edge_{i}_{j}" for i, j in EDGES)
# The cell of NAS-Bench-201's Fig. 1 as found best on CIFAR-10 by the paper's searches.
DEFAULT_ARCH = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def parse_arch(arch: str, option: str = "arch") -> tuple[str, ...]:
    """The six edge operations of an arch string, in `EDGES` order."""
    expected = "NAS-Bench-201's '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise OptionError(option, arch, f"expected {expected}")
    ops: list[str] = []
    for i, node in enumerate(nodes, start=1):
        inputs = [part for part in node.strip().strip("|").split("|") if part]
        if len(inputs) != i:
            raise OptionError(option, arch, f"node {i} needs {i} inputs; expected {expected}")
        for j, item in enumerate(inputs):
            op, sep, source = item.partition("~")
            if not sep or source != str(j):
                raise OptionError(option, arch, f"{item!r}: expected op~{j}")
            ops.append(_op(option, op))
    return tuple(ops)


def format_arch(ops: tuple[str, ...] | list[str]) -> str:
    """The arch string of six edge operations in `EDGES` order."""
    nodes, k = [], 0
    for i in (1, 2, 3):
        nodes.append("|" + "|".join(f"{ops[k + j]}~{j}" for j in range(i)) + "|")
        k += i
    return "+".join(nodes)


def _op(option: str, op: str) -> str:
    if op not in OPS:
        raise OptionError(option, op, f"expected one of {', '.join(OPS)}")
    return op


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (no bias) -> BN: the `nor_conv_*` operations."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, norm: str = "batch") -> None:
        super().__init__(nn.ReLU(), conv(in_channels, out_channels, kernel_size, stride),
                         make_norm(norm, out_channels))


class Zero(nn.Module):
    """The `none` operation: zeros of the input's shape (the edge is absent)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, norm: str) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    return ReLUConvBN(channels, channels, 1 if name == "nor_conv_1x1" else 3, norm=norm)


@BLOCKS.register("nb201_cell")
class NB201Cell(nn.Module):
    """A NAS-Bench-201 cell: `arch` (the string) or the six `edge_i_j` options; neither
    gives the paper's CIFAR-10 cell (`DEFAULT_ARCH`), edges not given take its operation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        arch: str | None = None,
        edge_1_0: str | None = None,
        edge_2_0: str | None = None,
        edge_2_1: str | None = None,
        edge_3_0: str | None = None,
        edge_3_1: str | None = None,
        edge_3_2: str | None = None,
        norm: str = "batch",
    ):
        super().__init__()
        if stride != 1:
            raise OptionError("stride", stride, "a NAS-Bench-201 cell keeps the resolution: "
                              "stride 1 (the nb201_reduction block strides)")
        if out_channels not in (None, in_channels):
            raise OptionError("out_channels", out_channels,
                              f"a NAS-Bench-201 cell keeps its {in_channels} channels")
        edges = (edge_1_0, edge_2_0, edge_2_1, edge_3_0, edge_3_1, edge_3_2)
        if arch is not None:
            given = [name for name, op in zip(EDGE_OPTIONS, edges, strict=True) if op is not None]
            if given:
                raise OptionError(given[0], edges[EDGE_OPTIONS.index(given[0])],
                                  "set either arch or the edge_* options, not both")
            ops = parse_arch(arch)
        else:
            default = parse_arch(DEFAULT_ARCH)
            ops = tuple(d if op is None else _op(name, op)
                        for name, op, d in zip(EDGE_OPTIONS, edges, default, strict=True))
        self.ops = ops
        self.arch = format_arch(ops)
        self.edges = nn.ModuleList(make_op(op, in_channels, norm) for op in ops)
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for i in (1, 2, 3):
            total = self.edges[k](nodes[0])
            for j in range(1, i):
                total = total + self.edges[k + j](nodes[j])
            nodes.append(total)
            k += i
        return nodes[3]


@BLOCKS.register("nb201_reduction")
class NB201Reduction(nn.Module):
    """NAS-Bench-201's residual block: two ReLU-conv3x3-BN, the first at `stride`; the
    shortcut averages 2x2 then projects 1x1 at stride 2, projects 1x1 (ReLU-conv-BN) when
    only the width changes, and is the identity otherwise. No activation after the sum."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        norm: str = "batch",
    ):
        super().__init__()
        if stride not in (1, 2):
            raise OptionError("stride", stride, "expected 1 or 2")
        out = out_channels or in_channels
        at_least("out_channels", out)
        self.conv_a = ReLUConvBN(in_channels, out, 3, stride, norm)
        self.conv_b = ReLUConvBN(out, out, 3, 1, norm)
        self.shortcut: nn.Module
        if stride == 2:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), conv(in_channels, out, 1))
        elif in_channels != out:
            self.shortcut = ReLUConvBN(in_channels, out, 1, 1, norm)
        else:
            self.shortcut = nn.Identity()
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)
