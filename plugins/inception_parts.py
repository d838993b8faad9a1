"""The parts the Inception family's plugins share (inception, inception_v4,
inception_resnet): concatenated branches, the module base class with its conv-norm-act
factory, and the branch shapes of Szegedy et al. 2016 (factorised nxn, split 1x3 / 3x1,
average-pool projection).

Not a plugin module itself: it registers nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import ConvNormAct, OptionError


class Concat(nn.Module):
    """Runs every branch on the same input and concatenates along channels."""

    def __init__(self, branches: dict[str, nn.Module], widths: dict[str, int]) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.out_channels = sum(widths.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches.values()], dim=1)


class InceptionModule(nn.Module):
    """Shared checks and the forward of the modules below (a `Concat` named `body`)."""

    body: Concat

    def __init__(self, norm: str, act: str, eps: float) -> None:
        super().__init__()
        self._norm, self._act, self._eps = norm, act, eps

    def cna(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | None = None,
    ) -> ConvNormAct:
        return ConvNormAct(
            cin, cout, kernel, stride, padding, norm=self._norm, act=self._act, eps=self._eps
        )

    def finish(self, body: Concat, out_channels: int | None) -> None:
        # The builder compares a requested width with the produced one too, but only the block
        # can say why the number is what it is.
        if out_channels is not None and out_channels != body.out_channels:
            raise OptionError(
                "out_channels",
                out_channels,
                f"the branches concatenate to {body.out_channels} channels (set null or "
                f"{body.out_channels}, or change the branch widths)",
            )
        self.body = body
        self.out_channels = body.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def avg_pool_proj(
    module: InceptionModule, cin: int, cout: int, count_include_pad: bool = True
) -> nn.Sequential:
    # count_include_pad=False averages border windows over real pixels only, as the released
    # Inception-v4 / Inception-ResNet-v2 models do; torchvision's Inception-v3 counts the pad.
    pool = nn.AvgPool2d(3, 1, 1, count_include_pad=count_include_pad)
    return nn.Sequential(pool, module.cna(cin, cout, 1))


def factorised(
    module: InceptionModule, cin: int, widths: list[int], n: int, first_row: bool
) -> list[nn.Module]:
    """Alternating 1xn / nx1 convs (Szegedy et al. 2016, Fig. 6): an nxn at 2n/n^2 the cost."""
    layers: list[nn.Module] = []
    row = first_row
    for width in widths:
        layers.append(module.cna(cin, width, (1, n) if row else (n, 1)))
        cin, row = width, not row
    return layers


def split(module: InceptionModule, cin: int, cout: int) -> Concat:
    """Parallel 1x3 and 3x1 on one input (Fig. 7): widens the 8x8 representation."""
    return Concat(
        {"b1x3": module.cna(cin, cout, (1, 3)), "b3x1": module.cna(cin, cout, (3, 1))},
        {"b1x3": cout, "b3x1": cout},
    )
