"""`naswot`: "Neural Architecture Search without Training" (Mellor et al., ICML 2021). For a
batch of N images, each ReLU's input gives every image a binary code (which units are
active); K[i, j] counts the units on which images i and j agree, and the score is
log |det K|: networks that tell the images of a batch apart score higher. Data-dependent:
one batch, at initialisation. Reads the inputs of `nn.ReLU` modules (archforge's `relu`)."""

from __future__ import annotations

import torch
from torch import nn

from archforge.search.proxies.base import PROXIES, Batch, working_copy


@PROXIES.register("naswot")
def naswot(net: nn.Module, batch: Batch) -> float:
    model = working_copy(net)
    images = batch[0]
    n = images.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...], __: torch.Tensor) -> None:
        codes = (inputs[0].detach().flatten(1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    if not handles:
        raise ValueError("naswot reads ReLU activations; this network has no nn.ReLU")
    try:
        with torch.no_grad():
            model(images)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(kernel)[1])
