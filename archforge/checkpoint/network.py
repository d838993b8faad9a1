"""Rebuild the network an `archforge train` checkpoint was trained with.

The checkpoint stores the resolved model mapping under `META_KEY`. It is validated like any
user config (`parse_model`, with its size bounds) and checked on the meta device before a
single real weight is allocated. It is plain data: no OmegaConf, no interpolation, so a
`${oc.env:...}` string in a crafted file is just a string that then fails validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from archforge.checkpoint.files import read_checkpoint
from archforge.checkpoint.state import extract_state_dict, load_state
from archforge.errors import CheckpointError, ConfigError
from archforge.model.builder import build_network
from archforge.model.check import check
from archforge.model.discovery import load_plugins
from archforge.model.network import Network
from archforge.model.parse import parse_model
from archforge.model.schema import ModelConfig

# Checkpoint key holding what predict/export need without the training config files.
META_KEY = "archforge"


def stored_meta(data: Mapping[str, Any], where: str | Path) -> dict[str, Any]:
    """The metadata `archforge train` wrote, or a CheckpointError for any other file."""
    meta = data.get(META_KEY)
    if not isinstance(meta, Mapping) or not isinstance(meta.get("model"), Mapping):
        raise CheckpointError(
            f"checkpoint: {where} was not written by `archforge train` (no '{META_KEY}' "
            "model config); build the model in Python and use archforge.load_weights"
        )
    return dict(meta)


def stored_model(
    meta: Mapping[str, Any], state: Mapping[str, torch.Tensor], where: str | Path
) -> ModelConfig:
    """Validate the stored model mapping and check it on the meta device; its parameter
    count must fit in the stored tensors, so a crafted config cannot allocate more memory
    than the file itself holds."""
    # weights=None: the stored tensors are the weights; never read a second file.
    mapping = {**meta["model"], "weights": None}
    try:
        cfg = parse_model(mapping)
        load_plugins()
        report = check(cfg)
    except ConfigError as exc:
        raise CheckpointError(
            f"checkpoint: {where} stores a model config archforge cannot build: {exc}"
        ) from exc
    stored = sum(t.numel() for t in state.values())
    if report.total_params > stored:
        raise CheckpointError(
            f"checkpoint: {where} stores a model config with {report.total_params:,} "
            f"parameters but only {stored:,} tensor elements; the file does not hold this model"
        )
    return cfg


def load_network(path: str | Path) -> tuple[Network, dict[str, Any]]:
    """The trained network (eval mode) and its stored metadata (class names, statistics)."""
    data = read_checkpoint(path, "checkpoint")
    meta = stored_meta(data, path)
    state = extract_state_dict(data)
    cfg = stored_model(meta, state, path)
    net = build_network(cfg)
    load_state(net, state, where=str(path), key="checkpoint")
    return net.eval(), meta
