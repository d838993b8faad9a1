"""`synflow`: synaptic flow (Tanaka et al., NeurIPS 2020, "Pruning neural networks without any
data by iteratively conserving synaptic flow"), as a NAS proxy by Abdelfattah et al. (ICLR
2021): sum over conv and linear weights of theta * dR/dtheta, where R is the sum of the
outputs of the network with every parameter replaced by its absolute value, batch norm
removed, in double precision, for one all-ones input. Needs no data, only the input shape.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge.search.proxies.base import PROXIES, Batch, scored_weights, working_copy

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def without_batch_norm(model: nn.Module) -> nn.Module:
    """Replace every batch norm by the identity, in place (the reference setting, bn=False)."""
    for name, child in list(model.named_children()):
        if isinstance(child, NORMS):
            setattr(model, name, nn.Identity())
        else:
            without_batch_norm(child)
    return model


@PROXIES.register("synflow")
def synflow(net: nn.Module, batch: Batch) -> float:
    model = without_batch_norm(working_copy(net)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    ones = torch.ones((1, *batch[0].shape[1:]), dtype=torch.float64)
    model(ones).sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for weight in scored_weights(model):
        if weight.grad is not None:
            total += (weight.detach() * weight.grad).sum()
    return float(total)
