"""`macs`: multiply-accumulates of one image through the network's convolutions and linear
layers (archforge.model.macs), the other cost baseline of Abdelfattah et al. (ICLR 2021)."""

from __future__ import annotations

import torch
from torch import nn

from archforge.model.macs import count_macs
from archforge.search.proxies.base import PROXIES, Batch, working_copy


@PROXIES.register("macs")
def macs(net: nn.Module, batch: Batch) -> float:
    model = working_copy(net).eval()
    with count_macs(model) as counts, torch.no_grad():
        model(batch[0][:1])
    return float(sum(counts.values()))
