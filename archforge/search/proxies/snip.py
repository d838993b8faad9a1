"""`snip`: connection sensitivity (Lee et al., ICLR 2019, "SNIP: Single-shot Network Pruning
based on Connection Sensitivity"), summed over the network as a NAS proxy by Abdelfattah et
al. (ICLR 2021): sum over conv and linear weights of |theta * dL/dtheta| for the
cross-entropy loss of one labelled batch. Data-dependent."""

from __future__ import annotations

from torch import nn

from archforge.search.proxies.base import PROXIES, Batch, loss_gradients, scored_weights


@PROXIES.register("snip")
def snip(net: nn.Module, batch: Batch) -> float:
    model = loss_gradients(net, batch)
    total = 0.0
    for weight in scored_weights(model):
        if weight.grad is not None:
            total += float((weight.detach() * weight.grad).abs().sum())
    return total
