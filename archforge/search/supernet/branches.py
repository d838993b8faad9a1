"""Which choices of a search space nest and which split it into branches.

A numeric parameter (an int or float range, or a categorical of numbers: depth, width,
expansion) nests: a smaller value's tensors are slices of a larger value's, the first k
channels or the first d blocks of a stage (Once-for-All, Cai et al. ICLR 2020). Any other
categorical (block type, shortcut type, activation) does not: basic and bottleneck blocks
put different convolutions under the same names, and a block body trained to be added to a
projected input is not the one that should be added to a zero-padded input. Each
combination of those choices is a branch with a supernet of its own.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from archforge.errors import ConfigError
from archforge.search.space.search_space import Param, SearchSpace

MAX_CORNERS = 4096  # 2 ** numeric parameters per branch: 12 of them


def nests(p: Param) -> bool:
    """Numbers nest; strings, booleans and null do not."""
    if p.type in ("int", "float"):
        return True
    if p.type == "categorical":
        return all(isinstance(c, int | float) and not isinstance(c, bool) for c in p.choices)
    return False


def active(p: Param, chosen: dict[str, Any]) -> bool:
    return all(parent in chosen and chosen[parent] in ok for parent, ok in p.when)


@dataclass(frozen=True)
class Branch:
    """The non-nesting choices (and the constants they switch on) shared by its networks."""

    choices: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.choices) or "(one branch)"


def check_space(space: SearchSpace) -> None:
    """A nesting parameter may depend only on non-nesting ones (branches are enumerated
    before any number is drawn); only `model.*` paths change the network."""
    by_path = space.by_path()
    for p in space.params:
        if not p.path.startswith("model."):
            raise ConfigError(p.key, "search.evaluator=supernet scores networks sliced from "
                              "one trained supernet, so only model.* keys can be searched; "
                              f"{p.path} would need each candidate trained on its own "
                              "(use search.evaluator=training)")
        if nests(p):
            for parent, _ in p.when:
                if nests(by_path[parent]):
                    raise ConfigError(f"{p.key}.when", f"depends on {parent}, a number; "
                                      "with search.evaluator=supernet a condition may only "
                                      "name a categorical such as model.block")


def branches(space: SearchSpace) -> list[Branch]:
    """Every combination of the active non-nesting choices, in the space's order."""
    out: list[Branch] = []

    def walk(i: int, chosen: dict[str, Any], picked: tuple[tuple[str, Any], ...]) -> None:
        if i == len(space.params):
            out.append(Branch(picked))
            return
        p = space.params[i]
        if not active(p, chosen) or nests(p):
            walk(i + 1, chosen, picked)
        elif p.type == "fixed":
            walk(i + 1, {**chosen, p.path: p.value}, picked)
        else:
            for c in p.choices:
                walk(i + 1, {**chosen, p.path: c}, (*picked, (p.path, c)))

    walk(0, {}, ())
    return out


def branch_of(space: SearchSpace, point: dict[str, Any]) -> Branch:
    """The branch a sampled point (path -> value) belongs to."""
    return Branch(tuple((p.path, point[p.path]) for p in space.params
                        if p.path in point and not nests(p) and p.type != "fixed"))


def _fixed(space: SearchSpace, branch: Branch) -> dict[str, Any]:
    chosen = dict(branch.choices)
    for p in space.params:
        if p.type == "fixed" and active(p, chosen):
            chosen[p.path] = p.value
    return chosen


def numeric(space: SearchSpace, branch: Branch) -> list[Param]:
    chosen = _fixed(space, branch)
    return [p for p in space.params if nests(p) and active(p, chosen)]


def extremes(p: Param) -> tuple[Any, Any]:
    if p.type == "categorical":
        return min(p.choices), max(p.choices)
    if p.type == "int":
        low, high, step = int(p.low or 0), int(p.high or 0), int(p.step or 1)
        return low, low + (high - low) // step * step
    return float(p.low or 0.0), float(p.high or 0.0)


def corners(space: SearchSpace, branch: Branch) -> Iterator[dict[str, Any]]:
    """Every combination of each numeric parameter's lowest and highest value. Each tensor
    shape grows or shrinks monotonically with each number (width, depth, 1/expansion), so
    the elementwise maximum over the corners is the maximum over the whole branch."""
    params = numeric(space, branch)
    if 2 ** len(params) > MAX_CORNERS:
        raise ConfigError("search.space", f"{len(params)} numeric parameters in branch "
                          f"{branch.label}: at most {int(math.log2(MAX_CORNERS))} with "
                          "search.evaluator=supernet")
    base = _fixed(space, branch)
    for values in itertools.product(*(sorted(set(extremes(p))) for p in params)):
        yield {**base, **{p.path: v for p, v in zip(params, values, strict=True)}}


def draw(space: SearchSpace, branch: Branch, rng: random.Random) -> dict[str, Any]:
    """A random point of the branch: uniform integers and choices, floats uniform (on a log
    scale where the space says `log`)."""
    point = _fixed(space, branch)
    for p in numeric(space, branch):
        if p.type == "categorical":
            point[p.path] = rng.choice(list(p.choices))
        elif p.type == "int":
            point[p.path] = rng.choice(p.values())
        elif p.log:
            point[p.path] = math.exp(rng.uniform(math.log(float(p.low or 1)),
                                                 math.log(float(p.high or 1))))
        elif p.step:
            steps = int((float(p.high or 0) - float(p.low or 0)) // p.step)
            point[p.path] = float(p.low or 0) + p.step * rng.randint(0, steps)
        else:
            point[p.path] = rng.uniform(float(p.low or 0), float(p.high or 0))
    return point
