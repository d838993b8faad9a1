"""Zero-cost proxies: scores of an untrained network that rank architectures before any
training (Abdelfattah et al., ICLR 2021). One file per proxy, each citing its paper:
synflow, naswot, snip, grad_norm, params, macs. `score(net, batch, names)` computes several.

Adding a proxy: a file with `@PROXIES.register("name") def name(net, batch) -> float`
(higher is better), imported below.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from archforge.search.proxies import grad_norm, macs, naswot, params, snip, synflow
from archforge.search.proxies.base import PROXIES, Batch, Proxy

DATA_FREE = ("synflow", "params", "macs")  # need only the input's shape


def score(net: nn.Module, batch: Batch, names: Sequence[str] | None = None) -> dict[str, float]:
    """Each named proxy (all by default) of `net` on `batch`."""
    return {name: PROXIES.get(name, "proxies")(net, batch) for name in (names or PROXIES.names())}


__all__ = ["DATA_FREE", "PROXIES", "Batch", "Proxy", "grad_norm", "macs", "naswot", "params",
           "score", "snip", "synflow"]
