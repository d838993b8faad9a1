"""The Python API: `build`, `summary`, `resolve`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from torch import nn

from archforge.config.compose import model_mapping
from archforge.model.builder import build_network
from archforge.model.check import check
from archforge.model.discovery import load_plugins
from archforge.model.parse import parse_model
from archforge.model.schema import ModelConfig
from archforge.model.summary import ModelSummary

Source = str | Path | Mapping[str, Any] | DictConfig | ModelConfig


def resolve(source: Source, overrides: Sequence[str] | None = None) -> ModelConfig:
    """Compose and validate a model config (a zoo name, a YAML path, or a mapping).

    `overrides` are command-line style: `model.*` keys and the data the model follows
    (`data=cifar10`, `data.image_size=32`); a YAML file that leaves out in_channels,
    num_classes or input_size follows that data, or train's default (digits) without one.
    """
    load_plugins()
    if isinstance(source, ModelConfig):
        if overrides:
            raise ValueError("overrides apply to names, paths and mappings, not a ModelConfig")
        return source
    return parse_model(model_mapping(source, overrides))


def summary(source: Source, overrides: Sequence[str] | None = None) -> ModelSummary:
    """Per-stage output shape, params and MACs, computed without allocating weights."""
    return check(resolve(source, overrides))


def build(source: Source, overrides: Sequence[str] | None = None) -> nn.Module:
    """Validate on the meta device, then build the real network (and load `model.weights`)."""
    cfg = resolve(source, overrides)
    report = check(cfg)
    net = build_network(cfg)
    net.summary = report  # type: ignore[assignment]
    if cfg.weights:
        from archforge.checkpoint.weights import load_weights  # torch-only module, loaded on demand

        load_weights(net, cfg.weights, key="model.weights")
    return net
