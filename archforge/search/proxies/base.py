"""What every zero-cost proxy shares: the registry, the batch type, and the layers scored.

A proxy is `proxy(net, batch) -> float`, computed on a copy of the network at initialisation
(the network passed in is never changed, unless its caller handed it over with
`disposable(net)`: then the proxy works on it directly and saves the copy); `batch` is
`(images, labels)`. Proxies that need no data (synflow, params, MACs) use only the batch's
image shape. Higher is better for every proxy here (Abdelfattah et al., ICLR 2021,
"Zero-Cost Proxies for Lightweight NAS").
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable

import torch
from torch import nn

from archforge.model.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]
Proxy = Callable[[nn.Module, Batch], float]
PROXIES: Registry[Proxy] = Registry("proxy")


def scored_weights(net: nn.Module) -> list[torch.Tensor]:
    """The weights the pruning-at-initialisation proxies score: those of convolutions and
    linear layers (as Abdelfattah et al.'s reference implementation does)."""
    return [m.weight for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


_DISPOSABLE: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def disposable(net: nn.Module) -> nn.Module:
    """Mark a network its caller will not use again: the next proxy changes it in place
    instead of copying it (a copy of a NAS-Bench-201 network costs more than its synflow)."""
    _DISPOSABLE.add(net)
    return net


def working_copy(net: nn.Module) -> nn.Module:
    """A copy in training mode with fresh gradients: a proxy may change it freely."""
    if net in _DISPOSABLE:
        _DISPOSABLE.discard(net)  # handed over once
        model = net
    else:
        model = copy.deepcopy(net)
    model.train()
    model.zero_grad(set_to_none=True)
    return model


def loss_gradients(net: nn.Module, batch: Batch) -> nn.Module:
    """A copy of `net` after one cross-entropy backward pass on `batch`."""
    model = working_copy(net)
    images, labels = batch
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    return model
