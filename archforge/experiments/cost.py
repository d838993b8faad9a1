"""Parameters and MACs of a module or a one-stage network, counted on the meta device."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from archforge.api import summary
from archforge.model.macs import count_macs


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int  # per sample: convolutions and linear layers, as the papers count them
    out_shape: tuple[int, ...]  # (C, H, W)


def module_cost(module: nn.Module, in_shape: tuple[int, int, int]) -> Cost:
    """`module` must have been built under `torch.device("meta")`: nothing is allocated."""
    with torch.no_grad(), count_macs(module) as macs:
        out = module.eval()(torch.empty(1, *in_shape, device="meta"))
    return Cost(sum(p.numel() for p in module.parameters()), sum(macs.values()),
                tuple(out.shape[1:]))


def stage_cost(in_shape: tuple[int, int, int], stage: Mapping[str, Any]) -> Cost:
    """Cost of one stage built from registered plugins, read off `archforge.summary`'s row
    (a network with no stem, the stage, and a throwaway classifier head)."""
    channels, size, _ = in_shape
    report = summary({
        "name": "experiment", "in_channels": channels, "input_size": size, "num_classes": 2,
        "stem": {"type": "none"}, "stages": [dict(stage)], "head": {"type": "classifier"},
    })
    row = report.rows[1]
    return Cost(row.params, row.macs, row.out_shape)
