"""Validate a model mapping once, at the boundary, into a typed `ModelConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archforge.errors import ConfigError
from archforge.model.limits import Limits, limits
from archforge.model.schema import ModelConfig, StageConfig
from archforge.typed import from_mapping, join, require


def parse_model(data: Mapping[str, Any], path: str = "model") -> ModelConfig:
    """Check types, unknown keys, value ranges and size bounds (`archforge.model.limits`);
    plugin names and options are checked later by the builder, which knows each plugin's
    signature."""
    cfg = from_mapping(ModelConfig, data, path)
    bound = limits()
    require(bool(cfg.name.strip()), join(path, "name"), cfg.name,
            "a non-empty name (shown in summaries and exports)")
    # one class is no classifier: its softmax is 1.0 for every input and its loss is 0
    _integer(cfg.num_classes, join(path, "num_classes"), 2, bound.max_num_classes)
    _integer(cfg.in_channels, join(path, "in_channels"), 1, bound.max_in_channels)
    sizes = [cfg.input_size] if isinstance(cfg.input_size, int) else cfg.input_size
    require(
        len(sizes) in (1, 2) and all(1 <= s <= bound.max_input_size for s in sizes),
        join(path, "input_size"),
        cfg.input_size,
        f"an integer >= 1 and <= {bound.max_input_size:,} or a list [height, width] of them "
        "(ARCHFORGE_MAX_INPUT_SIZE raises the bound)",
    )
    if len(sizes) == 1:
        cfg.input_size = sizes[0]
    require(
        0 < cfg.width <= bound.max_width,
        join(path, "width"),
        cfg.width,
        f"a number > 0 and <= {bound.max_width} (ARCHFORGE_MAX_WIDTH raises the bound)",
    )
    require(
        1 <= len(cfg.stages) <= bound.max_stages,
        join(path, "stages"),
        f"{len(cfg.stages)} stages",
        f"a list of 1..{bound.max_stages} stages",
    )
    if cfg.stem.out_channels is not None:
        _channels(cfg.stem.out_channels, cfg.width, join(join(path, "stem"), "out_channels"), bound)
    for i, stage in enumerate(cfg.stages):
        _stage(cfg, stage, join(join(path, "stages"), i), path, bound)
    _width_keeps_channels(cfg, path)
    blocks = sum(stage.depth for stage in cfg.stages)
    require(blocks <= bound.max_blocks, join(path, "stages"), f"{blocks:,} blocks in all",
            f"at most {bound.max_blocks:,} blocks (ARCHFORGE_MAX_BLOCKS raises the bound)")
    return cfg


def _stage(cfg: ModelConfig, stage: StageConfig, sp: str, path: str, bound: Limits) -> None:
    _integer(stage.depth, join(sp, "depth"), 1, bound.max_stage_depth,
             " (ARCHFORGE_MAX_STAGE_DEPTH raises the bound)")
    _integer(stage.stride, join(sp, "stride"), 1, 64)
    if stage.out_channels is not None:
        _channels(stage.out_channels, cfg.width, join(sp, "out_channels"), bound,
                  " (or null to let the block decide)")
    require(
        stage.block is not None or cfg.block is not None,
        join(sp, "block"),
        None,
        f"a block name here or in {join(path, 'block')}",
    )


def _integer(value: int, path: str, low: int, high: int, note: str = "") -> None:
    require(low <= value <= high, path, value, f"an integer >= {low} and <= {high:,}{note}")


def _channels(value: int, width: float, path: str, bound: Limits, note: str = "") -> None:
    _integer(value, path, 1, bound.max_channels, note)
    scaled = round(value * width)
    require(
        scaled <= bound.max_channels,
        path,
        value,
        f"at most {bound.max_channels:,} channels after model.width={width} (gives {scaled:,}; "
        "ARCHFORGE_MAX_CHANNELS raises the bound)",
    )


def _width_keeps_channels(cfg: ModelConfig, path: str) -> None:
    """The rule for small multipliers: `model.width` may not round a stated stem or stage
    width to 0 channels. The builder would otherwise raise each such layer to 1 channel
    (`width=1e-9` built a 247-parameter network of 1-channel layers) and train it silently."""
    stated = [(join(join(path, "stem"), "out_channels"), cfg.stem.out_channels)]
    stated += [(join(join(join(path, "stages"), i), "out_channels"), stage.out_channels)
               for i, stage in enumerate(cfg.stages)]
    for key, channels in stated:
        if channels is not None and round(channels * cfg.width) < 1:
            smallest = min(c for _, c in stated if c is not None)
            raise ConfigError(
                join(path, "width"),
                f"got {cfg.width!r}, which scales {key}={channels} to "
                f"{round(channels * cfg.width)} channels; expected a multiplier that leaves "
                f"every stated width at least 1 channel (> {0.5 / smallest:.3g} here)",
            )
