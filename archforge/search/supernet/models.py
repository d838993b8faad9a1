"""A point of the space (config path -> value) as a network on the meta device.

The base model mapping (the search's composed model, data-followed keys resolved) gets the
point's values; the network is built by the registry's builder on the meta device, so it
costs milliseconds and allocates no weights. Its parameters are then supplied by the
supernet (slicing.py), never allocated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from archforge.errors import ConfigError
from archforge.model.builder import build_network
from archforge.model.network import Network
from archforge.model.parse import parse_model
from archforge.model.schema import ModelConfig


def set_path(mapping: dict[str, Any], path: str, value: Any) -> None:
    """`mapping[a][b][0][c] = value` for the path `a.b.0.c`, creating missing mappings."""
    keys = path.split(".")
    node: Any = mapping
    for key in keys[:-1]:
        if isinstance(node, list):
            node = node[int(key)]
        else:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value


class Models:
    """Model configs and meta networks of the points of one search space."""

    def __init__(self, base_model: Mapping[str, Any]) -> None:
        self.base = dict(copy.deepcopy(base_model))

    def config(self, point: Mapping[str, Any]) -> ModelConfig:
        mapping = copy.deepcopy(self.base)
        for path, value in point.items():
            set_path(mapping, path.removeprefix("model."), value)
        return parse_model(mapping)

    def meta(self, point: Mapping[str, Any]) -> Network:
        return meta_network(self.config(point))


def meta_network(cfg: ModelConfig) -> Network:
    with torch.device("meta"):
        return build_network(cfg)


def try_meta(models: Models, point: Mapping[str, Any]) -> Network | None:
    """The network, or None where the point is not a valid network (an identity shortcut
    where the shape changes): such points are never trained."""
    try:
        return models.meta(point)
    except ConfigError:
        return None
