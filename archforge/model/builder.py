"""Build a `Network` from a validated `ModelConfig`: plain Python and torch only.

Every plugin is constructed inside `_blame(path)`, so a failure in any block becomes a
`ConfigError` naming the config key the user must change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from archforge.errors import ConfigError, OptionError
from archforge.model.network import Network
from archforge.model.options import HEAD_ARGS, STEM_ARGS, check_options, parameter
from archforge.model.registry import BLOCKS, HEADS, SHORTCUTS, STEMS
from archforge.model.schema import ModelConfig
from archforge.typed import join

log = logging.getLogger(__name__)


@contextmanager
def _blame(path: str, option_paths: dict[str, str]) -> Iterator[None]:
    try:
        yield
    except ConfigError:
        raise
    except OptionError as exc:
        key = option_paths.get(exc.option, join(join(path, "options"), exc.option))
        raise ConfigError(key, f"got {exc.value!r}; {exc.accepted}") from exc
    except (ValueError, TypeError, RuntimeError, IndexError, KeyError, ArithmeticError) as exc:
        raise ConfigError(path, f"{type(exc).__name__}: {exc}") from exc


def scale(channels: int | None, width: float) -> int | None:
    """Apply the width multiplier; at least one channel."""
    return None if channels is None else max(1, round(channels * width))


def takes(factory: Callable[..., Any], name: str) -> bool:
    return parameter(factory, name) is not None


def block_path(stage_path: str, index: int, depth: int) -> str:
    """Where block `index` of a stage is reported: the stage itself when it has one block."""
    return stage_path if depth == 1 else f"{stage_path} (block {index} of {depth})"


def _out_channels(module: nn.Module, path: str) -> int:
    out = getattr(module, "out_channels", None)
    if not isinstance(out, int):
        raise ConfigError(path, f"plugin {type(module).__name__} does not expose out_channels")
    return out


def build_stem(cfg: ModelConfig) -> nn.Module:
    path = "model.stem"
    factory = STEMS.get(cfg.stem.type, join(path, "type"))
    paths = {k: join(join(path, "options"), k) for k in cfg.stem.options}
    paths.setdefault("out_channels", join(path, "out_channels"))
    options = check_options(
        factory, cfg.stem.options, paths, f"stem '{cfg.stem.type}'", STEM_ARGS
    )
    out = scale(cfg.stem.out_channels, cfg.width)
    with _blame(path, paths):
        if out is None:
            return factory(cfg.in_channels, **options)
        return factory(cfg.in_channels, out, **options)


def block_name(model_block: str | None, stage_block: str | None) -> str | None:
    """The block a stage repeats: its own `block`, else `model.block`."""
    return stage_block or model_block


def takes_block_options(model_block: str | None, stage_block: str | None) -> bool:
    """`model.block_options` reach the stages that repeat `model.block`; a stage naming
    another block gets only its own `options`."""
    return stage_block is None or stage_block == model_block


def stage_block(cfg: ModelConfig, index: int) -> tuple[str, Callable[..., Any], dict, dict]:
    """Resolve stage `index`: (block name, factory, options, option -> config path)."""
    stage = cfg.stages[index]
    sp = join("model.stages", index)
    name = block_name(cfg.block, stage.block)
    assert name is not None  # parse_model guarantees one of the two
    factory = BLOCKS.get(name, join(sp, "block") if stage.block else "model.block")
    options: dict[str, Any] = {}
    # Where a block's complaint about its positional arguments points; an option of the same
    # name (which check_options rejects) is reported at its own path instead.
    paths = {"out_channels": join(sp, "out_channels"), "stride": join(sp, "stride")}
    if takes_block_options(cfg.block, stage.block):
        options.update(cfg.block_options)
        paths.update({k: join("model.block_options", k) for k in cfg.block_options})
    options.update(stage.options)
    paths.update({k: join(join(sp, "options"), k) for k in stage.options})
    if takes(factory, "shortcut"):
        kind = stage.shortcut or cfg.shortcut
        if kind is not None:  # None: the block's own default
            key = join(sp, "shortcut") if stage.shortcut else "model.shortcut"
            SHORTCUTS.get(kind, key)
            options["shortcut"], paths["shortcut"] = kind, key
    elif stage.shortcut is not None:
        raise ConfigError(join(sp, "shortcut"), f"block '{name}' has no shortcut to set")
    options = check_options(factory, options, paths, f"block '{name}'")
    return name, factory, options, paths


def build_stage(cfg: ModelConfig, index: int, in_channels: int) -> nn.Sequential:
    stage = cfg.stages[index]
    sp = join("model.stages", index)
    name, factory, options, paths = stage_block(cfg, index)
    out = scale(stage.out_channels, cfg.width)
    if out is None and not _accepts_none_out(factory):
        raise ConfigError(join(sp, "out_channels"), f"missing; block '{name}' needs a width")
    blocks: list[nn.Module] = []
    channels = in_channels
    for j in range(stage.depth):
        with _blame(block_path(sp, j, stage.depth), paths):
            block = factory(channels, out, stage.stride if j == 0 else 1, **options)
        produced = _out_channels(block, sp)
        if out is not None and produced != out:
            raise ConfigError(
                join(sp, "out_channels"),
                f"got {out}; block '{name}' with these options produces {produced} channels",
            )
        blocks.append(block)
        channels = produced
    return nn.Sequential(*blocks)


def _accepts_none_out(factory: Callable[..., Any]) -> bool:
    param = parameter(factory, "out_channels")
    return param is not None and param.default is None


def build_head(cfg: ModelConfig, in_channels: int) -> nn.Module:
    path = "model.head"
    factory = HEADS.get(cfg.head.type, join(path, "type"))
    paths = {k: join(join(path, "options"), k) for k in cfg.head.options}
    paths.setdefault("num_classes", "model.num_classes")  # an option of that name is blamed itself
    options = check_options(
        factory, cfg.head.options, paths, f"head '{cfg.head.type}'", HEAD_ARGS
    )
    with _blame(path, paths):
        return factory(in_channels, cfg.num_classes, **options)


def check_model_shortcut(cfg: ModelConfig) -> None:
    """`model.shortcut` must name a registered shortcut even where no block uses it (a typo
    would otherwise pass silently); where no block takes one, say that it has no effect."""
    if cfg.shortcut is None:
        return
    SHORTCUTS.get(cfg.shortcut, "model.shortcut")
    blocks = {s.block or cfg.block for s in cfg.stages}
    if not any(takes(BLOCKS.get(b or "", "model.block"), "shortcut") for b in blocks):
        log.warning("model.shortcut=%r has no effect: no block of this model takes a shortcut "
                    "(%s)", cfg.shortcut, ", ".join(sorted(str(b) for b in blocks)))


def build_network(cfg: ModelConfig) -> Network:
    """Construct the network on the current default device (`torch.device("meta")` to check
    a config without allocating weights)."""
    check_model_shortcut(cfg)
    stem = build_stem(cfg)
    channels = _out_channels(stem, "model.stem")
    stages = []
    for i in range(len(cfg.stages)):
        stage = build_stage(cfg, i, channels)
        channels = _out_channels(stage[-1], join("model.stages", i))
        stages.append(stage)
    head = build_head(cfg, channels)
    return Network(stem, stages, head, cfg, stage_names(cfg))


def stage_names(cfg: ModelConfig) -> list[str]:
    """Each stage's name: its own, else `stage<i>` (what `finetune.freeze` may name)."""
    return [s.name or f"stage{i}" for i, s in enumerate(cfg.stages)]
