"""A branch's extent: the few corner networks whose tensors, elementwise, are the largest of
the branch, and its largest and smallest networks (the ends of the sandwich rule).

Every tensor shape of the registry's families is monotone in each number of the space: a
wider network has wider tensors, a deeper one more blocks, a larger bottleneck expansion
narrower inner convolutions. So each number has a direction (growing the tensors or
shrinking them), found by moving it alone from the branch's lowest corner; the largest
corner takes each number at its growing end. A number whose direction is not clear (it
grows some tensors and shrinks others, or changes nothing from there) is taken at both
ends. Where the probes cannot be built, every corner is used (branches.corners).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from archforge.search.space.search_space import SearchSpace
from archforge.search.supernet.branches import Branch, corners, extremes, numeric

Build = Callable[[dict[str, Any]], nn.Module | None]  # None: not a valid network


@dataclass
class Extent:
    nets: list[tuple[dict[str, Any], nn.Module]]  # corners that cover every tensor
    largest: dict[str, Any]
    smallest: dict[str, Any]


def _shapes(net: nn.Module) -> dict[str, tuple[int, ...]]:
    return {n: tuple(t.shape) for n, t in net.state_dict().items()}


def direction(low: nn.Module, high: nn.Module) -> int:
    """+1: `high` has every tensor of `low`, none smaller and some larger (or more
    tensors); -1 the reverse; 0 otherwise (no change, or mixed)."""
    a, b = _shapes(low), _shapes(high)
    grows = bool(set(b) - set(a)) or any(
        any(y > x for x, y in zip(a[n], b[n], strict=False)) for n in set(a) & set(b))
    shrinks = bool(set(a) - set(b)) or any(
        any(y < x for x, y in zip(a[n], b[n], strict=False)) for n in set(a) & set(b))
    return 0 if grows == shrinks else (1 if grows else -1)


def _params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _cached(build: Build) -> Build:
    seen: dict[str, nn.Module | None] = {}

    def cached(point: dict[str, Any]) -> nn.Module | None:
        key = repr(sorted(point.items()))
        if key not in seen:
            seen[key] = build(point)
        return seen[key]

    return cached


def extent(space: SearchSpace, branch: Branch, build: Build) -> Extent | None:
    """The covering corners of `branch`, or None where no network of it can be built."""
    build = _cached(build)
    params = numeric(space, branch)
    every = list(corners(space, branch))
    base = every[0]  # each number at its lowest
    ends = {p.path: extremes(p) for p in params}
    built = build(base)
    picks: list[list[Any]] = []
    for p in params:
        low, high = ends[p.path]
        probe = build({**base, p.path: high}) if built is not None and low != high else None
        way = direction(built, probe) if built is not None and probe is not None else 0
        if built is None or (probe is None and low != high):
            picks = []  # probes failed: fall back to every corner
            break
        picks.append([low] if low == high else [high] if way > 0 else [low] if way < 0
                     else [low, high])
    if picks or not params:
        points = [{**base, **dict(zip([p.path for p in params], values, strict=True))}
                  for values in itertools.product(*picks)]
        points.append({**base, **{p.path: (ends[p.path][0] if pick == [ends[p.path][1]]
                                           or len(pick) == 2 else ends[p.path][1])
                                  for p, pick in zip(params, picks, strict=True)}})
    else:
        points = every
    nets = [(pt, net) for pt in points if (net := build(pt)) is not None]
    if not nets:
        nets = [(pt, net) for pt in every if (net := build(pt)) is not None]
        if not nets:
            return None
    ranked = sorted(nets, key=lambda pn: _params(pn[1]))
    return Extent(nets, ranked[-1][0], ranked[0][0])
