"""Run a candidate on its slice of the supernet: forward, batch-norm recalibration, scoring.

`torch.func.functional_call` runs the candidate's own module (built on the meta device by
the registry, so its forward is the plugin's, shortcuts included) with the sliced tensors
in place of its parameters and buffers: gradients flow into the shared parameters and no
plugin needs supernet-specific code.

A sub-network's batch-norm statistics are not the supernet's: before scoring they are
recomputed from scratch on a few hundred training images in train mode, with cumulative
averaging (`momentum=None`), into fresh tensors (as Once-for-All and BigNAS do). The
supernet's own tensors are only read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from archforge.search.supernet.slicing import sliced


def forward(net: nn.Module, state: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    out = functional_call(net, dict(state), (x,))
    assert isinstance(out, torch.Tensor)
    return out


def norms(net: nn.Module) -> list[tuple[str, _BatchNorm]]:
    return [(n, m) for n, m in net.named_modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


def fresh_statistics(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with new batch-norm buffers: mean 0, variance 1, no batch seen."""
    out = dict(state)
    for name, _ in norms(net):
        p = f"{name}." if name else ""
        out[f"{p}running_mean"] = torch.zeros_like(state[f"{p}running_mean"])
        out[f"{p}running_var"] = torch.ones_like(state[f"{p}running_var"])
        out[f"{p}num_batches_tracked"] = torch.zeros_like(state[f"{p}num_batches_tracked"])
    return out


@torch.no_grad()
def recalibrate(net: nn.Module, state: dict[str, torch.Tensor],
                batches: Iterable[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The candidate's state with batch-norm statistics averaged over `batches`."""
    state = fresh_statistics(net, state)
    modules = norms(net)
    saved = [m.momentum for _, m in modules]
    was_training = net.training
    try:
        for _, m in modules:
            m.momentum = None  # cumulative average over all batches, each weighted equally
        net.train()
        for x in batches:
            forward(net, state, x)
    finally:
        for (_, m), momentum in zip(modules, saved, strict=True):
            m.momentum = momentum
        net.train(was_training)
    return state


@dataclass
class Score:
    metrics: dict[str, float]  # val/acc, val/loss and (more than 5 classes) val/acc_top5


@torch.no_grad()
def validate(net: nn.Module, state: Mapping[str, torch.Tensor],
             batches: Iterable[tuple[torch.Tensor, torch.Tensor]], num_classes: int) -> Score:
    """One validation pass in eval mode: accuracy and mean cross-entropy over all images."""
    was_training = net.training
    net.eval()
    correct = top5 = seen = 0
    loss = 0.0
    try:
        for x, y in batches:
            logits = forward(net, state, x)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            if num_classes > 5:
                top5 += int((logits.topk(5, 1).indices == y[:, None]).any(1).sum())
            seen += int(y.numel())
    finally:
        net.train(was_training)
    metrics = {"val/acc": correct / max(seen, 1), "val/loss": loss / max(seen, 1)}
    if num_classes > 5:
        metrics["val/acc_top5"] = top5 / max(seen, 1)
    return Score(metrics)


def score(net: nn.Module, shared: Mapping[str, torch.Tensor], calibration: list[torch.Tensor],
          val: list[tuple[torch.Tensor, torch.Tensor]], num_classes: int) -> Score:
    """Slice, recalibrate, validate; the supernet's tensors are never written."""
    state = recalibrate(net, sliced(shared, net, copy_buffers=True), calibration)
    return validate(net, state, val, num_classes)
