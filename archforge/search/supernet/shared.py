"""The supernet's tensors: per branch, the elementwise maximum of every tensor's shape over
the branch, held as one module so that an optimizer, `state_dict` and `torch.save` work.

The maximum is taken over the branch's corner networks (branches.corners), built on the
meta device: width and depth at their highest, a bottleneck's expansion at its lowest (its
inner width is out_channels / expansion), which is not one candidate's shape in general.
Initialisation copies each corner network's own initialisation (the plugins' `init_weights`,
e.g. zero-initialised residual norms) into its region, smallest network first, so the
largest network starts exactly as it would train alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from archforge.model.builder import build_network
from archforge.model.schema import ModelConfig
from archforge.search.supernet.slicing import (
    NotSliceableError,
    check_sliceable,
    not_a_slice,
    region,
    tensors,
)


def _key(name: str) -> str:
    return name.replace(".", ":")  # module attribute names cannot hold dots


class SharedWeights(nn.Module):
    """One branch's tensors by their network names (`stages.0.1.conv1.weight`)."""

    def __init__(self, shapes: dict[str, tuple[tuple[int, ...], torch.dtype, bool]]) -> None:
        super().__init__()
        self.names = sorted(shapes)
        for name in self.names:
            shape, dtype, is_param = shapes[name]
            t = torch.zeros(shape, dtype=dtype)
            if is_param:
                self.register_parameter(_key(name), nn.Parameter(t))
            else:
                self.register_buffer(_key(name), t)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, _key(name)) for name in self.names}


def union_shapes(nets: Iterable[nn.Module]) -> dict[str, tuple[tuple[int, ...], torch.dtype,
                                                                bool]]:
    """name -> (elementwise maximum shape, dtype, is a parameter) over `nets`."""
    out: dict[str, tuple[tuple[int, ...], torch.dtype, bool]] = {}
    for net in nets:
        check_sliceable(net)
        for name, t, is_param in tensors(net):
            shape = tuple(t.shape)
            if name not in out:
                out[name] = (shape, t.dtype, is_param)
                continue
            have, dtype, was_param = out[name]
            if len(have) != len(shape) or was_param != is_param:
                raise not_a_slice(net, name, shape, have)
            out[name] = (tuple(max(a, b) for a, b in zip(have, shape, strict=True)), dtype,
                         was_param)
    if not out:
        raise NotSliceableError("search.space", "no network of this branch could be built")
    return out


@torch.no_grad()
def initialise(weights: SharedWeights, configs: list[ModelConfig], seed: int) -> None:
    """Copy each corner network's initialisation into its region, smallest first."""
    full = weights.tensors()
    torch.manual_seed(seed)
    nets = [build_network(cfg) for cfg in configs]
    for net in sorted(nets, key=lambda n: sum(p.numel() for p in n.parameters())):
        for name, t, _ in tensors(net):
            region(full[name], tuple(t.shape)).copy_(t)
