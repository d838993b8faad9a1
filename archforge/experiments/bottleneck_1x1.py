"""Inception's 1x1 reductions and ResNet's bottleneck, as arithmetic (no training).

- Szegedy et al. 2015, "Going Deeper with Convolutions", Sec. 4 and Fig. 2: a naive module
  (1x1, 3x3, 5x5 and a 3x3 max-pool side by side) against the module with 1x1 reductions
  before the 3x3 and 5x5 and a 1x1 projection after the pool, at inception(3a)'s widths
  (Table 1) on a 28x28x192 input.
- The 1x1-convolution example: 20 1x1 filters compress 64x64x100 to 64x64x20 with
  100 * 20 + 20 = 2,020 parameters and 64 * 64 * 100 * 20 MACs (Lin et al. 2014, "Network
  in Network", the idea Inception builds on).
- Szegedy et al. 2016, "Rethinking the Inception Architecture", Sec. 3: a 5x5 factorised
  into two 3x3s (Fig. 5, 18/25 of the cost) and a 7x7 into 1x7 then 7x1 (Fig. 6, 14/49), at
  the widths of Inception-v3's 35x35 and 17x17 grids.
- He et al. 2015, "Deep Residual Learning", Sec. 4.1 and Fig. 5: a basic block and a
  bottleneck (1x1 reduce to 64, 3x3, 1x1 expand) at 256 channels on 56x56, and the paper's
  own pairing, the 64-channel basic block against the 256-channel bottleneck ("similar time
  complexity").

Every number is counted by archforge (`archforge.summary` on the meta device for plugin
blocks, the same MAC counter for the hand-built naive module) and set beside the closed-form
count, so a wrong counter would show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from archforge.experiments.cost import Cost, module_cost, stage_cost
from archforge.experiments.report import Outcome, Table, figure_axes, save_figure
from archforge.model.layers import ConvNormAct, conv
from archforge.typed import require

TRAINS = False

# inception(3a), Szegedy et al. 2015 Table 1.
IN_3A = (192, 28, 28)
W_3A = {"ch1x1": 64, "ch3x3red": 96, "ch3x3": 128, "ch5x5red": 16, "ch5x5": 32,
        "pool_proj": 32}


@dataclass
class Settings:
    # The paper's module has a real 5x5; torchvision's GoogLeNet (our zoo default) uses 3x3.
    kernel_5x5: int = 5

    def check(self, path: str) -> None:
        require(self.kernel_5x5 in (3, 5), f"{path}.kernel_5x5", self.kernel_5x5, "3 or 5")


class NaiveInception(nn.Module):
    """Fig. 2a: 1x1 | 3x3 | 5x5 | 3x3 max-pool on the full input, concatenated. No plugin
    builds it because it was never used: the pool branch alone keeps all input channels."""

    def __init__(self, cin: int, ch1x1: int, ch3x3: int, ch5x5: int, k5: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList([
            ConvNormAct(cin, ch1x1, 1), ConvNormAct(cin, ch3x3, 3), ConvNormAct(cin, ch5x5, k5),
            nn.MaxPool2d(3, 1, 1),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


def conv_macs(hw: int, *convs: tuple[int, int, int]) -> int:
    """Closed form: output pixels x sum of (in x out x k x k) over the convs."""
    return hw * sum(cin * cout * k * k for cin, cout, k in convs)


def _rows(k5: int) -> list[tuple[str, str, Cost, int]]:
    """(comparison, variant, counted cost, MACs by formula)."""
    w = W_3A
    c, hw = IN_3A[0], IN_3A[1] * IN_3A[2]
    with torch.device("meta"):
        naive = NaiveInception(c, w["ch1x1"], w["ch3x3"], w["ch5x5"], k5)
        squeeze = nn.Conv2d(100, 20, 1, bias=True)
        five = conv(64, 64, 5)
        two_threes = nn.Sequential(conv(64, 64, 3), conv(64, 64, 3))
        seven = conv(192, 192, 7)
        one_by_seven = nn.Sequential(conv(192, 192, (1, 7)), conv(192, 192, (7, 1)))
    reduced = stage_cost(IN_3A, {"block": "inception", "out_channels": None,
                                 "options": {**w, "kernel_5x5": k5}})
    inception_naive = conv_macs(hw, (c, w["ch1x1"], 1), (c, w["ch3x3"], 3), (c, w["ch5x5"], k5))
    inception_reduced = conv_macs(
        hw, (c, w["ch1x1"], 1), (c, w["ch3x3red"], 1), (w["ch3x3red"], w["ch3x3"], 3),
        (c, w["ch5x5red"], 1), (w["ch5x5red"], w["ch5x5"], k5), (c, w["pool_proj"], 1),
    )

    def block(kind: str, width: int, **opts: int) -> Cost:
        return stage_cost((width, 56, 56), {"block": kind, "depth": 1, "out_channels": width,
                                            "stride": 1, "options": opts})

    return [
        ("inception(3a), 28x28x192", "naive: 1x1, 3x3, 5x5, max-pool",
         module_cost(naive, IN_3A), inception_naive),
        ("inception(3a), 28x28x192", "with 1x1 reductions (GoogLeNet)", reduced,
         inception_reduced),
        ("1x1 conv, 64x64x100", "20 1x1 filters (+bias)", module_cost(squeeze, (100, 64, 64)),
         conv_macs(64 * 64, (100, 20, 1))),
        ("factorised 5x5, 35x35x64", "5x5 conv", module_cost(five, (64, 35, 35)),
         conv_macs(35 * 35, (64, 64, 5))),
        ("factorised 5x5, 35x35x64", "two 3x3 convs (v3 Fig. 5)",
         module_cost(two_threes, (64, 35, 35)), conv_macs(35 * 35, (64, 64, 3), (64, 64, 3))),
        ("factorised 7x7, 17x17x192", "7x7 conv", module_cost(seven, (192, 17, 17)),
         conv_macs(17 * 17, (192, 192, 7))),
        ("factorised 7x7, 17x17x192", "1x7 then 7x1 (v3 Fig. 6)",
         module_cost(one_by_seven, (192, 17, 17)), 2 * 17 * 17 * 192 * 192 * 7),
        ("256 channels, 56x56", "basic: 3x3, 3x3", block("basic", 256),
         conv_macs(56 * 56, (256, 256, 3), (256, 256, 3))),
        ("256 channels, 56x56", "bottleneck: 1x1/64, 3x3, 1x1", block("bottleneck", 256),
         conv_macs(56 * 56, (256, 64, 1), (64, 64, 3), (64, 256, 1))),
        ("He et al. pairing, 56x56", "basic, 64 channels (ResNet-34)", block("basic", 64),
         conv_macs(56 * 56, (64, 64, 3), (64, 64, 3))),
        ("He et al. pairing, 56x56", "bottleneck, 256 channels (ResNet-50)",
         block("bottleneck", 256), conv_macs(56 * 56, (256, 64, 1), (64, 64, 3), (64, 256, 1))),
    ]


def run(settings: Settings, overrides: list[str], run_dir: Path) -> Outcome:
    rows = _rows(settings.kernel_5x5)
    table = Table("costs", ["comparison", "variant", "output", "params", "MACs",
                            "MACs by formula", "MACs vs first of pair"])
    first: dict[str, Cost] = {}
    for comparison, variant, cost, formula in rows:
        base = first.setdefault(comparison, cost)
        table.rows.append([comparison, variant, "x".join(map(str, cost.out_shape)), cost.params,
                           cost.macs, formula, round(cost.macs / base.macs, 4)])
    outcome = Outcome("bottleneck_1x1", run_dir, [table])
    naive, reduced, squeeze, five, threes, seven, sevens, basic, neck, basic64, neck256 = (
        r[2] for r in rows
    )
    outcome.notes += [
        f"1x1 reductions cut inception(3a) from {naive.macs / 1e6:.1f}M to "
        f"{reduced.macs / 1e6:.1f}M MACs ({naive.macs / reduced.macs:.2f}x) and "
        f"{naive.params:,} to {reduced.params:,} params, while the output narrows from "
        f"{naive.out_shape[0]} to {reduced.out_shape[0]} channels (the naive pool branch "
        f"passes all {IN_3A[0]} input channels on, so the next module would cost more still)",
        f"20 1x1 filters on 64x64x100: {squeeze.params:,} params, {squeeze.macs:,} MACs "
        f"(64*64*100*20 = {64 * 64 * 100 * 20:,})",
        f"factorising: two 3x3s cost {threes.macs / five.macs:.3f}x a 5x5 (18/25 = 0.72), 1x7 "
        f"then 7x1 {sevens.macs / seven.macs:.3f}x a 7x7 (14/49 = 0.286)",
        f"at 256 channels the bottleneck costs {neck.macs / basic.macs:.3f}x the basic block's "
        f"MACs ({neck.params:,} vs {basic.params:,} params); He et al.'s pairing, basic-64 vs "
        f"bottleneck-256: {basic64.macs:,} vs {neck256.macs:,} MACs "
        f"({neck256.macs / basic64.macs:.3f}x)",
        "params count conv weights and batch-norm affine parameters (as `archforge summary`); "
        "the 64x64x100 example is a bare conv with bias",
        f"MACs counted == closed form on every row: "
        f"{all(c.macs == f for _, _, c, f in rows)}",
    ]
    outcome.figures.append(_plot(rows, run_dir / "bottleneck_1x1.png"))
    return outcome


def _plot(rows: list[tuple[str, str, Cost, int]], path: Path) -> Path:
    fig, (ax_p, ax_m) = figure_axes(2, width=6.0, height=5.6)
    labels = [f"{comp}\n{var}" for comp, var, _, _ in rows]
    baseline = ("naive", "basic", "5x5 conv", "7x7 conv")
    colors = ["tab:red" if v.startswith(baseline) else "tab:blue"
              for _, v, _, _ in rows]
    ys = range(len(rows))
    ax_p.barh(ys, [r[2].params for r in rows], color=colors)
    ax_m.barh(ys, [r[2].macs for r in rows], color=colors)
    for ax, title in ((ax_p, "parameters"), (ax_m, "MACs per image")):
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_yticks(list(ys))
        ax.invert_yaxis()
    ax_p.set_yticklabels([lab.replace(", ", "\n", 1) for lab in labels], fontsize=7)
    ax_m.set_yticklabels([])
    from matplotlib.patches import Patch

    ax_m.legend(handles=[
        Patch(color="tab:red", label="without: naive module, basic block, full kernel"),
        Patch(color="tab:blue", label="with: 1x1 reductions, bottleneck, factorised"),
    ], loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=7, frameon=False)
    return save_figure(fig, path)
