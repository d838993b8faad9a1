"""Inception modules: parallel branches of different receptive fields, concatenated.

- `inception`: the GoogLeNet module of Szegedy et al. 2015, "Going Deeper with Convolutions"
  (Fig. 2b, Table 1): 1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5; 3x3 max-pool -> 1x1 pool
  proj. Options carry Table 1's column names. torchvision's GoogLeNet uses a 3x3 in the
  "5x5" branch, so `kernel_5x5` defaults to 3; `kernel_5x5: 5` gives the paper's module.
- `inception_v3_a`, `inception_v3_b`, `inception_v3_c`: the 35x35, 17x17 and 8x8 modules of
  Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision" (Fig. 5,
  6 and 7: a 5x5 factorised into two 3x3s; nxn into 1xn and nx1; an expanded filter bank
  whose last convs split into parallel 1x3 and 3x1).
- `inception_v3_reduction_a`, `inception_v3_reduction_b`: the grid reductions of Sec. 5 and
  Fig. 10, strided conv branches concatenated with a strided max-pool.

The v3 modules follow the layout of the released model (torchvision's InceptionA-E), whose
widths are the defaults here; every branch width is an option so YAML can resize it. All
convs are conv (no bias) -> batch norm (eps 1e-3, as the released weights) -> ReLU.
"""

from __future__ import annotations

from torch import nn

from archforge import BLOCKS

from .checks import fixed_stride, odd_kernel, positive_widths
from .inception_parts import (
    Concat,
    InceptionModule,
    avg_pool_proj,
    factorised,
    split,
)


@BLOCKS.register("inception")
class Inception(InceptionModule):
    """GoogLeNet's module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | max-pool 3x3 -> 1x1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 64,
        ch3x3red: int = 96,
        ch3x3: int = 128,
        ch5x5red: int = 16,
        ch5x5: int = 32,
        pool_proj: int = 32,
        kernel_5x5: int = 3,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "an inception module", "; downsample with a maxpool stage")
        positive_widths(ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3, ch5x5red=ch5x5red, ch5x5=ch5x5,
                  pool_proj=pool_proj)
        odd_kernel("kernel_5x5", kernel_5x5)
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b3x3": nn.Sequential(
                self.cna(in_channels, ch3x3red, 1), self.cna(ch3x3red, ch3x3, 3)
            ),
            "b5x5": nn.Sequential(
                self.cna(in_channels, ch5x5red, 1), self.cna(ch5x5red, ch5x5, kernel_5x5)
            ),
            # ceil_mode matches the released model; at stride 1 it never changes the shape.
            "pool": nn.Sequential(
                nn.MaxPool2d(3, 1, 1, ceil_mode=True), self.cna(in_channels, pool_proj, 1)
            ),
        }
        widths = {"b1x1": ch1x1, "b3x3": ch3x3, "b5x5": ch5x5, "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v3_a")
class InceptionV3A(InceptionModule):
    """35x35 module: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg-pool -> 1x1.

    The double-3x3 branch is Fig. 5's factorised 5x5 (two 3x3s see the same 5x5 window at
    18/25 of the cost); the released model keeps a plain 5x5 branch beside it. The released
    Inception-ResNet-v2 reuses this module (its "mixed_5b") with `count_include_pad: false`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 64,
        ch5x5red: int = 48,
        ch5x5: int = 64,
        ch3x3dblred: int = 64,
        ch3x3dbl: int = 96,
        pool_features: int = 32,
        count_include_pad: bool = True,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v3_a", "; downsample with inception_v3_reduction_a")
        positive_widths(ch1x1=ch1x1, ch5x5red=ch5x5red, ch5x5=ch5x5, ch3x3dblred=ch3x3dblred,
                  ch3x3dbl=ch3x3dbl, pool_features=pool_features)
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b5x5": nn.Sequential(
                self.cna(in_channels, ch5x5red, 1), self.cna(ch5x5red, ch5x5, 5)
            ),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, ch3x3dblred, 1),
                self.cna(ch3x3dblred, ch3x3dbl, 3),
                self.cna(ch3x3dbl, ch3x3dbl, 3),
            ),
            "pool": avg_pool_proj(self, in_channels, pool_features, count_include_pad),
        }
        widths = {"b1x1": ch1x1, "b5x5": ch5x5, "b3x3dbl": ch3x3dbl, "pool": pool_features}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v3_b")
class InceptionV3B(InceptionModule):
    """17x17 module (Fig. 6): 1x1 | 1x1 -> 1xn -> nx1 | 1x1 -> (nx1 -> 1xn) x2 | pool -> 1x1.

    `channels_7x7` is the width inside the factorised branches, `ch7x7` what each emits.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        channels_7x7: int = 128,
        ch1x1: int = 192,
        ch7x7: int = 192,
        pool_proj: int = 192,
        n: int = 7,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v3_b", "; downsample with inception_v3_reduction_b")
        positive_widths(channels_7x7=channels_7x7, ch1x1=ch1x1, ch7x7=ch7x7, pool_proj=pool_proj)
        odd_kernel("n", n, 3)
        c7 = channels_7x7
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b7x7": nn.Sequential(
                self.cna(in_channels, c7, 1), *factorised(self, c7, [c7, ch7x7], n, True)
            ),
            "b7x7dbl": nn.Sequential(
                self.cna(in_channels, c7, 1),
                *factorised(self, c7, [c7, c7, c7, ch7x7], n, False),
            ),
            "pool": avg_pool_proj(self, in_channels, pool_proj),
        }
        widths = {"b1x1": ch1x1, "b7x7": ch7x7, "b7x7dbl": ch7x7, "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v3_c")
class InceptionV3C(InceptionModule):
    """8x8 module (Fig. 7): 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x3 -> [1x3, 3x1] | pool -> 1x1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        ch1x1: int = 320,
        ch3x3red: int = 384,
        ch3x3: int = 384,
        ch3x3dblred: int = 448,
        ch3x3dbl: int = 384,
        pool_proj: int = 192,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 1, "inception_v3_c")
        positive_widths(ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3, ch3x3dblred=ch3x3dblred,
                  ch3x3dbl=ch3x3dbl, pool_proj=pool_proj)
        branches: dict[str, nn.Module] = {
            "b1x1": self.cna(in_channels, ch1x1, 1),
            "b3x3": nn.Sequential(
                self.cna(in_channels, ch3x3red, 1), split(self, ch3x3red, ch3x3)
            ),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, ch3x3dblred, 1),
                self.cna(ch3x3dblred, ch3x3dbl, 3),
                split(self, ch3x3dbl, ch3x3dbl),
            ),
            "pool": avg_pool_proj(self, in_channels, pool_proj),
        }
        widths = {"b1x1": ch1x1, "b3x3": 2 * ch3x3, "b3x3dbl": 2 * ch3x3dbl, "pool": pool_proj}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v3_reduction_a")
class InceptionV3ReductionA(InceptionModule):
    """35 -> 17 (Fig. 10): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max-pool 3x3/2, concatenated.

    Striding convs and a pool side by side shrinks the grid while widening the filter bank,
    avoiding both the representational bottleneck and the cost of pooling after expanding.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        ch3x3: int = 384,
        ch3x3dblred: int = 64,
        ch3x3dbl: int = 96,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 2, "a grid reduction")
        positive_widths(ch3x3=ch3x3, ch3x3dblred=ch3x3dblred, ch3x3dbl=ch3x3dbl)
        branches: dict[str, nn.Module] = {
            "b3x3": self.cna(in_channels, ch3x3, 3, 2, 0),
            "b3x3dbl": nn.Sequential(
                self.cna(in_channels, ch3x3dblred, 1),
                self.cna(ch3x3dblred, ch3x3dbl, 3),
                self.cna(ch3x3dbl, ch3x3dbl, 3, 2, 0),
            ),
            "pool": nn.MaxPool2d(3, 2),
        }
        widths = {"b3x3": ch3x3, "b3x3dbl": ch3x3dbl, "pool": in_channels}
        self.finish(Concat(branches, widths), out_channels)


@BLOCKS.register("inception_v3_reduction_b")
class InceptionV3ReductionB(InceptionModule):
    """17 -> 8: 1x1 -> 3x3/2 | 1x1 -> 1xn -> nx1 -> 3x3/2 | max-pool 3x3/2, concatenated."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 2,
        ch3x3red: int = 192,
        ch3x3: int = 320,
        ch7x7x3red: int = 192,
        ch7x7x3: int = 192,
        n: int = 7,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-3,
    ) -> None:
        super().__init__(norm, act, eps)
        fixed_stride(stride, 2, "a grid reduction")
        positive_widths(ch3x3red=ch3x3red, ch3x3=ch3x3, ch7x7x3red=ch7x7x3red, ch7x7x3=ch7x7x3)
        odd_kernel("n", n, 3)
        branches: dict[str, nn.Module] = {
            "b3x3": nn.Sequential(
                self.cna(in_channels, ch3x3red, 1), self.cna(ch3x3red, ch3x3, 3, 2, 0)
            ),
            "b7x7x3": nn.Sequential(
                self.cna(in_channels, ch7x7x3red, 1),
                *factorised(self, ch7x7x3red, [ch7x7x3red, ch7x7x3red], n, True),
                self.cna(ch7x7x3red, ch7x7x3, 3, 2, 0),
            ),
            "pool": nn.MaxPool2d(3, 2),
        }
        widths = {"b3x3": ch3x3, "b7x7x3": ch7x7x3, "pool": in_channels}
        self.finish(Concat(branches, widths), out_channels)
