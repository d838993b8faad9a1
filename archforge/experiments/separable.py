"""Depthwise-separable convolution cost, and Xception's size against Inception-v3's.

- Howard et al. 2017, "MobileNets", Sec. 3.1: a kxk standard conv costs
  k*k*M*N*F*F MACs; a depthwise kxk plus a pointwise 1x1 costs k*k*M*F*F + M*N*F*F, a ratio
  of 1/N + 1/k^2. Here M = N = width, counted by archforge's MAC counter and timed on this
  CPU (median of repeats, the two convs timed alternately in one run, so load drifts hit
  both alike).
- Chollet 2017, "Xception", Sec. 4.7: Xception "has the same number of parameters as
  Inception V3". Both zoo models are summarised side by side and the ratio reported.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from archforge.api import summary
from archforge.experiments.cost import module_cost
from archforge.experiments.report import Outcome, Table, figure_axes, save_figure
from archforge.model.layers import conv
from archforge.typed import require

TRAINS = False


@dataclass
class Settings:
    widths: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])
    size: int = 14  # feature map side (MobileNet's 14x14 stage has 512 channels)
    kernel_size: int = 3
    batch_size: int = 16  # timed forward batch
    repeats: int = 15  # timed forwards per conv and width; the median is reported
    # One thread by default (why: archforge/cli/experiment.py); timing with two on a shared machine
    # turned other jobs' bursts into 100x outliers.
    threads: int = 1

    def check(self, path: str) -> None:
        require(bool(self.widths) and all(w >= 1 for w in self.widths), f"{path}.widths",
                self.widths, "a non-empty list of integers >= 1")
        require(self.size >= 1, f"{path}.size", self.size, "an integer >= 1")
        require(self.kernel_size >= 1 and self.kernel_size % 2 == 1, f"{path}.kernel_size",
                self.kernel_size, "an odd integer >= 1")
        require(self.batch_size >= 1, f"{path}.batch_size", self.batch_size, "an integer >= 1")
        require(self.repeats >= 1, f"{path}.repeats", self.repeats, "an integer >= 1")
        require(self.threads >= 1, f"{path}.threads", self.threads, "an integer >= 1")


def standard(width: int, k: int) -> nn.Module:
    return conv(width, width, k)


def separable(width: int, k: int) -> nn.Module:
    """Depthwise kxk (one filter per channel) then pointwise 1x1: MobileNet's factorisation."""
    return nn.Sequential(conv(width, width, k, groups=width), conv(width, width, 1))


def paired_medians(a: nn.Module, b: nn.Module, x: torch.Tensor, repeats: int) -> tuple[
    float, float
]:
    """Median forward seconds of `a` and `b`, timed alternately after one warm-up each."""
    times: tuple[list[float], list[float]] = ([], [])
    with torch.inference_mode():
        a(x)
        b(x)
        for _ in range(repeats):
            for net, out in ((a, times[0]), (b, times[1])):
                start = time.perf_counter()
                net(x)
                out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _fill(convs: Table, settings: Settings) -> None:
    k, f = settings.kernel_size, settings.size
    for w in settings.widths:
        with torch.device("meta"):
            cost_s = module_cost(standard(w, k), (w, f, f))
            cost_d = module_cost(separable(w, k), (w, f, f))
        std, sep = standard(w, k).eval(), separable(w, k).eval()
        x = torch.randn(settings.batch_size, w, f, f)
        t_s, t_d = paired_medians(std, sep, x, settings.repeats)
        convs.rows.append([
            w, cost_s.params, cost_d.params, cost_s.macs, cost_d.macs,
            round(cost_d.macs / cost_s.macs, 4), round(1 / w + 1 / k**2, 4),
            round(1e3 * t_s, 3), round(1e3 * t_d, 3), round(t_d / t_s, 3),
        ])


def run(settings: Settings, overrides: list[str], run_dir: Path) -> Outcome:
    k, f = settings.kernel_size, settings.size
    convs = Table("standard vs separable", [
        "width", "standard params", "separable params", "standard MACs", "separable MACs",
        "MAC ratio", "1/N + 1/k^2", "standard ms", "separable ms", "time ratio",
    ])
    torch.manual_seed(0)
    _fill(convs, settings)  # under `threads` torch threads (set by the command)
    models = Table("xception vs inception_v3", ["model", "input", "params", "MACs"])
    reports = {name: summary(name) for name in ("xception", "inception_v3")}
    for name, rep in reports.items():
        models.rows.append([name, "x".join(map(str, rep.input_shape)), rep.total_params,
                            rep.total_macs])
    xc, v3 = reports["xception"], reports["inception_v3"]
    p_ratio, m_ratio = xc.total_params / v3.total_params, xc.total_macs / v3.total_macs
    models.rows.append(["ratio xception / inception_v3", "", round(p_ratio, 4),
                        round(m_ratio, 4)])
    outcome = Outcome("separable", run_dir, [convs, models])
    ratios = convs.column("MAC ratio")
    times = convs.column("time ratio")
    outcome.notes += [
        f"separable/standard MACs at {k}x{k}: {min(ratios):.3f}..{max(ratios):.3f} over widths "
        f"{settings.widths} (1/N + 1/k^2 exactly); measured CPU time ratio "
        f"{min(times):.2f}..{max(times):.2f} (batch {settings.batch_size}, {f}x{f}, median of "
        f"{settings.repeats}, {settings.threads} thread(s)): depthwise convs do far fewer "
        "MACs per byte moved, so time falls less than MACs",
        f"Xception {xc.total_params:,} vs Inception-v3 {v3.total_params:,} params "
        f"(ratio {p_ratio:.3f}: 'the same number of parameters' holds within "
        f"{abs(1 - p_ratio):.1%}); MACs {xc.total_macs / 1e9:.3f}G vs "
        f"{v3.total_macs / 1e9:.3f}G (ratio {m_ratio:.3f})",
    ]
    outcome.figures.append(_plot(convs, models, k, run_dir / "separable.png"))
    return outcome


def _plot(convs: Table, models: Table, k: int, path: Path) -> Path:
    fig, (ax_r, ax_m) = figure_axes(2)
    widths = convs.column("width")
    ax_r.plot(widths, convs.column("MAC ratio"), "o-", label="MACs (counted)")
    ax_r.plot(widths, convs.column("1/N + 1/k^2"), "k:", label=f"1/N + 1/{k * k}")
    ax_r.plot(widths, convs.column("time ratio"), "s--", label="CPU time (measured)")
    ax_r.set_xscale("log", base=2)
    ax_r.set_xlabel("width (in = out channels)")
    ax_r.set_ylabel("separable / standard")
    ax_r.set_title(f"{k}x{k} conv: separable vs standard")
    ax_r.legend()
    names = models.column("model")[:2]
    params = [p / 1e6 for p in models.column("params")[:2]]
    macs = [m / 1e9 for m in models.column("MACs")[:2]]
    xs = range(len(names))
    ax_m.bar([x - 0.2 for x in xs], params, 0.4, label="params (M)")
    ax_m.bar([x + 0.2 for x in xs], macs, 0.4, label="MACs (G)")
    ax_m.set_xticks(list(xs))
    ax_m.set_xticklabels(names)
    ax_m.set_title("Xception vs Inception-v3 (299x299)")
    ax_m.legend()
    return save_figure(fig, path)
