"""`grad_norm`: the sum over conv and linear layers of the Euclidean norm of the weights'
gradient of the cross-entropy loss on one labelled batch (Abdelfattah et al., ICLR 2021,
"Zero-Cost Proxies for Lightweight NAS", Sec. 3). Data-dependent."""

from __future__ import annotations

from torch import nn

from archforge.search.proxies.base import PROXIES, Batch, loss_gradients, scored_weights


@PROXIES.register("grad_norm")
def grad_norm(net: nn.Module, batch: Batch) -> float:
    model = loss_gradients(net, batch)
    return sum((float(w.grad.norm()) for w in scored_weights(model) if w.grad is not None),
               0.0)
