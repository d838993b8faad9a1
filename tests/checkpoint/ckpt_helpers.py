"""A tiny network and checkpoints written the way `archforge train` writes them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

import archforge
from archforge.checkpoint import META_KEY

TINY_MODEL: dict[str, Any] = {
    "name": "tiny",
    "num_classes": 3,
    "in_channels": 1,
    "input_size": 8,
    "block": "basic",
    "shortcut": "projection",
    "stem": {"type": "cifar", "out_channels": 4},
    "stages": [{"depth": 1, "out_channels": 4, "stride": 1}],
    "head": {"type": "classifier"},
}


def tiny_model(**changes: Any) -> dict[str, Any]:
    model = copy.deepcopy(TINY_MODEL)
    model.update(changes)
    return model


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return archforge.build(TINY_MODEL).eval()


def write_checkpoint(
    path: Path, net: torch.nn.Module, model: dict[str, Any] | None = None, **meta: Any
) -> Path:
    """Lightning's layout: `state_dict` with `net.` prefixes, archforge metadata beside it."""
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    data = {"epoch": 0, "state_dict": state,
            META_KEY: {"model": model or TINY_MODEL, "class_names": ["a", "b", "c"], **meta}}
    torch.save(data, path)
    return path
