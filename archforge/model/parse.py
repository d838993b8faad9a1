"""Validate a model mapping once, at the boundary, into a typed `ModelConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archforge.model.schema import ModelConfig
from archforge.typed import from_mapping, join, require


def parse_model(data: Mapping[str, Any], path: str = "model") -> ModelConfig:
    """Check types, unknown keys and value ranges; plugin names and options are checked later
    by the builder, which knows each plugin's signature."""
    cfg = from_mapping(ModelConfig, data, path)
    require(cfg.num_classes >= 1, join(path, "num_classes"), cfg.num_classes, "an integer >= 1")
    require(cfg.in_channels >= 1, join(path, "in_channels"), cfg.in_channels, "an integer >= 1")
    sizes = [cfg.input_size] if isinstance(cfg.input_size, int) else cfg.input_size
    require(
        len(sizes) in (1, 2) and all(s >= 1 for s in sizes),
        join(path, "input_size"),
        cfg.input_size,
        "an integer >= 1 or a list [height, width] of them",
    )
    if len(sizes) == 1:
        cfg.input_size = sizes[0]
    require(cfg.width > 0, join(path, "width"), cfg.width, "a number > 0")
    require(len(cfg.stages) >= 1, join(path, "stages"), cfg.stages, "a list of at least one stage")
    if cfg.stem.out_channels is not None:
        p = join(join(path, "stem"), "out_channels")
        require(cfg.stem.out_channels >= 1, p, cfg.stem.out_channels, "an integer >= 1 or null")
    for i, stage in enumerate(cfg.stages):
        sp = join(join(path, "stages"), i)
        require(stage.depth >= 1, join(sp, "depth"), stage.depth, "an integer >= 1")
        require(stage.stride >= 1, join(sp, "stride"), stage.stride, "an integer >= 1")
        if stage.out_channels is not None:
            require(
                stage.out_channels >= 1,
                join(sp, "out_channels"),
                stage.out_channels,
                "an integer >= 1 (or null to let the block decide)",
            )
        require(
            stage.block is not None or cfg.block is not None,
            join(sp, "block"),
            None,
            f"a block name here or in {join(path, 'block')}",
        )
    return cfg
