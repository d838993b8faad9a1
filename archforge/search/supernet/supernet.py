"""The supernet: one `SharedWeights` per feasible branch of the space, with each branch's
largest and smallest networks (the two ends of the sandwich rule)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from archforge.errors import ConfigError
from archforge.search.space.search_space import SearchSpace
from archforge.search.supernet.branches import Branch, branch_of, branches, check_space
from archforge.search.supernet.extent import Extent, extent
from archforge.search.supernet.models import Models, try_meta
from archforge.search.supernet.shared import SharedWeights, initialise, union_shapes


@dataclass
class BranchNets:
    branch: Branch
    largest: dict[str, Any]  # the corner with the most parameters
    smallest: dict[str, Any]  # the corner with the fewest


def _params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _covering(found: Extent) -> list[dict[str, Any]]:
    """The largest network, and every other corner holding a tensor (or part of one) the
    largest lacks: the networks whose initialisation fills the shared tensors."""
    ranked = sorted(found.nets, key=lambda pn: _params(pn[1]))
    largest = {n: t.shape for n, t in ranked[-1][1].state_dict().items()}

    def beyond(net: nn.Module) -> bool:
        return any(n not in largest or any(a > b for a, b in zip(t.shape, largest[n],
                                                                  strict=False))
                   for n, t in net.state_dict().items())

    return [p for p, net in ranked[:-1] if beyond(net)] + [ranked[-1][0]]


class Supernet(nn.Module):
    """Shared weights per branch; `weights[i]` belongs to `branches[i]`."""

    def __init__(self, space: SearchSpace, models: Models, seed: int) -> None:
        super().__init__()
        check_space(space)
        self.space = space
        self.models = models
        self.branches: list[BranchNets] = []
        weights = []
        for branch in branches(space):
            found = extent(space, branch, lambda point: try_meta(models, point))
            if found is None:  # e.g. identity shortcuts in a space whose widths change
                continue
            shared = SharedWeights(union_shapes(net for _, net in found.nets))
            with torch.device("cpu"):
                initialise(shared, [models.config(p) for p in _covering(found)], seed)
            self.branches.append(BranchNets(branch, found.largest, found.smallest))
            weights.append(shared)
        if not weights:
            raise ConfigError("search.space", "no network of this space can be built; "
                              "nothing to train a supernet for")
        self.weights = nn.ModuleList(weights)

    def index(self, point: dict[str, Any]) -> int:
        branch = branch_of(self.space, point)
        for i, b in enumerate(self.branches):
            if b.branch == branch:
                return i
        raise ConfigError("search.space", f"branch {branch.label} has no supernet (no network "
                          "of it could be built)")

    def shared(self, i: int) -> dict[str, torch.Tensor]:
        w = self.weights[i]
        assert isinstance(w, SharedWeights)
        return w.tensors()

    def describe(self) -> str:
        """What the checkpoint was made for: branches, shapes (a resume must match)."""
        return json.dumps([[b.branch.label, {n: list(t.shape) for n, t in
                                             self.shared(i).items()}]
                           for i, b in enumerate(self.branches)], sort_keys=True)
