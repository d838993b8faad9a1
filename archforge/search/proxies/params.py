"""`params`: the number of trainable parameters - the baseline every proxy must beat
(Abdelfattah et al., ICLR 2021, Table 1, report it beside the zero-cost proxies)."""

from __future__ import annotations

from torch import nn

from archforge.search.proxies.base import PROXIES, Batch


@PROXIES.register("params")
def params(net: nn.Module, batch: Batch) -> float:
    return float(sum(p.numel() for p in net.parameters() if p.requires_grad))
