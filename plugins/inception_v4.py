"""Inception-v4: Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning" (Fig. 3-9).

- stem `inception_v4` (Fig. 3): 299x299 -> 35x35x384, three times a strided conv beside a
  max-pool or a second conv path, concatenated.
- `inception_v4_a` / `_b` / `_c` (Fig. 4, 5, 6): the 35x35, 17x17 and 8x8 modules.
- `inception_v4_reduction_a` (Fig. 7, widths k, l, m, n of Table 1; Inception-ResNet-v2
  uses the same module with k=l=256, m=n=384) and `inception_v4_reduction_b` (Fig. 8).

Branch widths are options, written as lists: the first entry is the branch's 1x1 reduction,
the rest are the widths of the convolutions after it, in order. The defaults are the paper's
(and timm's `inception_v4`). Convs are conv (no bias) -> BN (eps 1e-3) -> ReLU; the average
pools do not count padding, as in the released model.
"""

from __future__ import annotations

import itertools

from torch import nn

from archforge import BLOCKS, STEMS, ConvNormAct, OptionError

from .checks import fixed_stride, positive_widths, width_list
from .inception_parts import Concat, InceptionModule, avg_pool_proj, factorised, split


@STEMS.register("inception_v4")
class InceptionV4Stem(nn.Sequential):
    """Fig. 3: 3x3/2 32, 3x3 32, 3x3 64 | [pool, 3x3/2 96] | [1x1-3x3, 1x1-7x1-1x7-3x3] 96+96 |
    [3x3/2 192, pool] -> 384 channels at 35x35 from 299x299."""

    def __init__(self, in_channels: int, out_channels: int | None = None, eps: float = 1e-3):
        if out_channels not in (None, 384):
            raise OptionError("out_channels", out_channels, "the inception_v4 stem always has 384")

        def cna(
            cin: int, cout: int, k: int | tuple[int, int], s: int = 1, p: int | None = None
        ) -> ConvNormAct:
            return ConvNormAct(cin, cout, k, s, p, eps=eps)

        super().__init__(
            cna(in_channels, 32, 3, 2, 0),
            cna(32, 32, 3, 1, 0),
            cna(32, 64, 3),
            Concat({"pool": nn.MaxPool2d(3, 2), "conv": cna(64, 96, 3, 2, 0)},
                   {"pool": 64, "conv": 96}),
            Concat(
                {
                    "b3x3": nn.Sequential(cna(160, 64, 1), cna(64, 96, 3, 1, 0)),
                    "b7x7": nn.Sequential(
                        cna(160, 64, 1), cna(64, 64, (1, 7)), cna(64, 64, (7, 1)),
                        cna(64, 96, 3, 1, 0),
                    ),
                },
                {"b3x3": 96, "b7x7": 96},
            ),
            Concat({"conv": cna(192, 192, 3, 2, 0), "pool": nn.MaxPool2d(3, 2)},
                   {"conv": 192, "pool": 192}),
        )
        self.out_channels = 384


@BLOCKS.register("inception_v4_a")
class InceptionV4A(InceptionModule):
    """35x35 module (Fig. 4): 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | avg-pool -> 1x1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 96,
        b3x3: tuple[int, ...] = (64, 96),
        b3x3dbl: tuple[int, ...] = (64, 96, 96),
        pool_proj: int = 96,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v4_a", "; downsample with inception_v4_reduction_a")
        positive_widths(ch1x1=ch1x1, pool_proj=pool_proj)
        width_list("b3x3", b3x3)
        width_list("b3x3dbl", b3x3dbl)
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b3x3": self._chain(in_channels, b3x3, 3),
            "b3x3dbl": self._chain(in_channels, b3x3dbl, 3),
            "pool": avg_pool_proj(self, in_channels, pool_proj, count_include_pad=False),
        }
        widths = {"b1x1": ch1x1, "b3x3": b3x3[-1], "b3x3dbl": b3x3dbl[-1], "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)

    def _chain(self, cin: int, widths: tuple[int, ...], k: int) -> nn.Sequential:
        layers: list[nn.Module] = [self.cna(cin, widths[0], 1)]
        layers += [self.cna(a, b, k) for a, b in itertools.pairwise(widths)]
        return nn.Sequential(*layers)


@BLOCKS.register("inception_v4_b")
class InceptionV4B(InceptionModule):
    """17x17 module (Fig. 5): 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 |
    avg-pool -> 1x1. `n` is the factorised kernel length (7 in the paper)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 384,
        b7x7: tuple[int, ...] = (192, 224, 256),
        b7x7dbl: tuple[int, ...] = (192, 192, 224, 224, 256),
        pool_proj: int = 128,
        n: int = 7,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v4_b", "; downsample with inception_v4_reduction_b")
        positive_widths(ch1x1=ch1x1, pool_proj=pool_proj)
        width_list("b7x7", b7x7)
        width_list("b7x7dbl", b7x7dbl)
        if n < 3 or n % 2 == 0:
            raise OptionError("n", n, "expected an odd integer >= 3")
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b7x7": nn.Sequential(
                self.cna(in_channels, b7x7[0], 1),
                *factorised(self, b7x7[0], list(b7x7[1:]), n, True),
            ),
            "b7x7dbl": nn.Sequential(
                self.cna(in_channels, b7x7dbl[0], 1),
                *factorised(self, b7x7dbl[0], list(b7x7dbl[1:]), n, False),
            ),
            "pool": avg_pool_proj(self, in_channels, pool_proj, count_include_pad=False),
        }
        widths = {"b1x1": ch1x1, "b7x7": b7x7[-1], "b7x7dbl": b7x7dbl[-1], "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v4_c")
class InceptionV4C(InceptionModule):
    """8x8 module (Fig. 6): 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x1 -> 1x3 -> [1x3, 3x1] |
    avg-pool -> 1x1. `b3x3` is (1x1, each split conv); `b3x3dbl` is (1x1, 3x1, 1x3, each
    split conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 256,
        b3x3: tuple[int, ...] = (384, 256),
        b3x3dbl: tuple[int, ...] = (384, 448, 512, 256),
        pool_proj: int = 256,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v4_c")
        positive_widths(ch1x1=ch1x1, pool_proj=pool_proj)
        width_list("b3x3", b3x3, 2)
        width_list("b3x3dbl", b3x3dbl, 4)
        r, s = b3x3
        r2, a, b, s2 = b3x3dbl
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b3x3": nn.Sequential(self.cna(in_channels, r, 1), split(self, r, s)),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, r2, 1),
                self.cna(r2, a, (3, 1)),
                self.cna(a, b, (1, 3)),
                split(self, b, s2),
            ),
            "pool": avg_pool_proj(self, in_channels, pool_proj, count_include_pad=False),
        }
        widths = {"b1x1": ch1x1, "b3x3": 2 * s, "b3x3dbl": 2 * s2, "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v4_reduction_a")
class InceptionV4ReductionA(InceptionModule):
    """35 -> 17 (Fig. 7): 3x3/2 n | 1x1 k -> 3x3 l -> 3x3/2 m | max-pool 3x3/2.

    Table 1 lists (k, l, m, n): Inception-v4 (192, 224, 256, 384), Inception-ResNet-v1
    (192, 192, 256, 384), Inception-ResNet-v2 (256, 256, 384, 384).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        k: int = 192,
        l: int = 224,  # noqa: E741 - the paper's name for this width
        m: int = 256,
        n: int = 384,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 2, "a grid reduction")
        positive_widths(k=k, l=l, m=m, n=n)
        branches: dict[str, nn.Module] = {
            "b3x3": self.cna(in_channels, n, 3, 2, 0),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, k, 1), self.cna(k, l, 3), self.cna(l, m, 3, 2, 0)
            ),
            "pool": nn.MaxPool2d(3, 2),
        }
        self.finish(Concat(branches, {"b3x3": n, "b3x3dbl": m, "pool": in_channels}),
                    out_channels)


@BLOCKS.register("inception_v4_reduction_b")
class InceptionV4ReductionB(InceptionModule):
    """17 -> 8 (Fig. 8): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max-pool 3x3/2."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        b3x3: tuple[int, ...] = (192, 192),
        b7x7x3: tuple[int, ...] = (256, 256, 320, 320),
        n: int = 7,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 2, "a grid reduction")
        width_list("b3x3", b3x3, 2)
        width_list("b7x7x3", b7x7x3, 4)
        if n < 3 or n % 2 == 0:
            raise OptionError("n", n, "expected an odd integer >= 3")
        r, a, b, c = b7x7x3
        branches: dict[str, nn.Module] = {
            "b3x3": nn.Sequential(
                self.cna(in_channels, b3x3[0], 1), self.cna(b3x3[0], b3x3[1], 3, 2, 0)
            ),
            "b7x7x3": nn.Sequential(
                self.cna(in_channels, r, 1),
                *factorised(self, r, [a, b], n, True),
                self.cna(b, c, 3, 2, 0),
            ),
            "pool": nn.MaxPool2d(3, 2),
        }
        widths = {"b3x3": b3x3[1], "b7x7x3": c, "pool": in_channels}
        self.finish(Concat(branches, widths), out_channels)
