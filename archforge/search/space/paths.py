"""Which config paths a search space may set, and the closest real key for a typo.

A path is real when the composed base config holds it, when the model schema defines it
(`model.width` left at its default), or when it is a plugin option that every plugin it
can reach accepts. Which block receives `model.block_options.*` and
`model.stages.N.options.*` is decided by the builder's own rule (`block_name`,
`takes_block_options`), so the space and the network agree on it.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from archforge.errors import closest, describe_choices
from archforge.model.builder import block_name, takes_block_options
from archforge.model.options import (
    BLOCK_ARGS,
    HEAD_ARGS,
    STEM_ARGS,
    accepts_var_keywords,
    option_specs,
)
from archforge.model.registry import BLOCKS, HEADS, STEMS, Registry
from archforge.model.schema import HeadConfig, ModelConfig, StageConfig, StemConfig

MISSING = object()
BLOCK_OPTION = re.compile(r"^model\.(?:block_options|stages\.(\d+)\.options)\.([^.]+)$")
PLUGIN_OPTION = re.compile(r"^model\.(stem|head)\.options\.([^.]+)$")
# plugin kind -> (registry, the arguments the builder passes itself)
PLUGINS: dict[str, tuple[Registry[Any], tuple[str, ...]]] = {
    "block": (BLOCKS, BLOCK_ARGS), "stem": (STEMS, STEM_ARGS), "head": (HEADS, HEAD_ARGS),
}
_SECTIONS: dict[str, Any] = {"stem": StemConfig, "head": HeadConfig}

# The values a config path can hold where the parameter being checked is active.
Possible = Callable[[str], list[Any]]


def lookup(cfg: Any, path: str) -> Any:
    """The value at a dotted path of a plain container, or MISSING (null is a value)."""
    node = cfg
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return MISSING
            node = node[int(part)]
        else:
            return MISSING
    return node


def _stage_count(base: Any) -> int:
    stages = lookup(base, "model.stages")
    return len(stages) if isinstance(stages, list) else 0


def schema_default(path: str, base: Any) -> Any:
    """The schema's default for a model path the YAML leaves out (`model.stem.type` ->
    `cifar`, `model.stages.1.block` -> None), or MISSING when the schema has no such field."""
    parts = path.split(".")
    if parts[0] != "model" or len(parts) < 2:
        return MISSING
    tp: Any = ModelConfig
    rest = parts[1:]
    while rest:
        if not dataclasses.is_dataclass(tp):
            return MISSING
        fields = {f.name: f for f in dataclasses.fields(tp)}
        name, rest = rest[0], rest[1:]
        if name not in fields:
            return MISSING
        if name == "stages" and tp is ModelConfig and rest:
            if not rest[0].isdigit() or int(rest[0]) >= _stage_count(base):
                return MISSING
            tp, rest = StageConfig, rest[1:]
            continue
        if name in _SECTIONS and tp is ModelConfig and rest:
            tp = _SECTIONS[name]
            continue
        if rest:  # below a leaf field (options.<x> is a plugin option, checked elsewhere)
            return MISSING
        f = fields[name]
        if f.default is not dataclasses.MISSING:
            return f.default
        return f.default_factory()  # type: ignore[operator]
    return MISSING


def _options(kind: str, name: str) -> list[str]:
    registry, builder_args = PLUGINS[kind]
    return sorted(option_specs(registry.get(name), builder_args))


def _accepts(kind: str, name: str, option: str) -> bool:
    registry, builder_args = PLUGINS[kind]
    factory = registry.get(name)
    return option in option_specs(factory, builder_args) or accepts_var_keywords(factory)


def _anywhere(kind: str, option: str) -> bool:
    """Does any registered plugin of this kind name the option?"""
    return any(option in _options(kind, name) for name in PLUGINS[kind][0].names())


def receiving_blocks(path: str, base: Any, possible: Possible) -> list[str]:
    """The blocks a block option at `path` can reach, by the builder's rule."""
    m = BLOCK_OPTION.match(path)
    assert m is not None
    model_blocks = possible("model.block") or [None]
    stages = [int(m.group(1))] if m.group(1) is not None else range(_stage_count(base))
    found: set[str] = set()
    for i in stages:
        stage_blocks = possible(f"model.stages.{i}.block") or [None]
        for mb, sb in itertools.product(model_blocks, stage_blocks):
            if m.group(1) is None and not takes_block_options(mb, sb):
                continue
            name = block_name(mb, sb)
            if name is not None:
                found.add(str(name))
    return sorted(found)


def check(path: str, base: Any, possible: Possible) -> str | None:
    """None when a space may set `path`; otherwise what is wrong and the closest real key."""
    if lookup(base, path) is not MISSING or schema_default(path, base) is not MISSING:
        return None
    m = BLOCK_OPTION.match(path)
    if m:
        option = m.group(2)
        blocks = receiving_blocks(path, base, possible)
        if not blocks:
            return (f"no stage repeats a block that receives {path!r} (a stage that names "
                    "its own block takes only model.stages.N.options)")
        refusing = [b for b in blocks if not _accepts("block", b, option)]
        if refusing and not _anywhere("block", option):
            return unknown(path, base)  # a typo: suggest the closest real key
        if refusing:
            return (f"block {refusing[0]!r} has no option {option!r} "
                    f"({describe_choices(option, _options('block', refusing[0]))}); restrict "
                    "the parameter with `when:` to the blocks that take it")
        return None
    m = PLUGIN_OPTION.match(path)
    if m:
        kind, option = m.group(1), m.group(2)
        names = possible(f"model.{kind}.type")
        if not names:
            names = [schema_default(f"model.{kind}.type", base)]
        for name in names:
            if not _accepts(kind, str(name), option):
                if not _anywhere(kind, option):
                    return unknown(path, base)
                takers = [n for n in PLUGINS[kind][0].names() if _accepts(kind, n, option)]
                where = (f"; {kind}s that take it: {', '.join(takers)} (set model.{kind}.type)"
                         if takers else "")
                return (f"{kind} {name!r} has no option {option!r} "
                        f"({describe_choices(option, _options(kind, str(name)))}){where}")
        return None
    return unknown(path, base)


def known_paths(base: Any) -> list[str]:
    """Every key a space can name: the base config's, the model schema's (per stage) and
    every registered plugin's options."""
    out: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        items = (node.items() if isinstance(node, dict) else
                 enumerate(node) if isinstance(node, list) else ())
        for k, v in items:
            key = f"{prefix}.{k}" if prefix else str(k)
            out.add(key)
            walk(v, key)

    walk(base, "")
    out.update(f"model.{f.name}" for f in dataclasses.fields(ModelConfig))
    for section, tp in _SECTIONS.items():
        out.update(f"model.{section}.{f.name}" for f in dataclasses.fields(tp))
        registry, _ = PLUGINS[section]
        for name in registry.names():
            out.update(f"model.{section}.options.{o}" for o in _options(section, name))
    block_options = {o for name in BLOCKS.names() for o in _options("block", name)}
    out.update(f"model.block_options.{o}" for o in block_options)
    for i in range(_stage_count(base)):
        out.update(f"model.stages.{i}.{f.name}" for f in dataclasses.fields(StageConfig))
        out.update(f"model.stages.{i}.options.{o}" for o in block_options)
    return sorted(out)


def _children(prefix: str, known: Iterable[str]) -> list[str]:
    head = f"{prefix}." if prefix else ""
    return sorted({k[len(head):].split(".")[0] for k in known if k.startswith(head)})


def unknown(path: str, base: Any) -> str:
    """`unknown config path 'model.widht'; did you mean 'model.width'? (keys under model:
    ...)`: the closest full key, and the keys under the deepest parent that exists."""
    known = known_paths(base)
    hint = closest(path, known)
    text = f"unknown config path {path!r}"
    if hint:
        text += f"; did you mean {hint!r}?"
    parent = path.rpartition(".")[0]
    while parent and not _children(parent, known):
        parent = parent.rpartition(".")[0]
    keys = _children(parent, known)
    return text + f" (keys under {parent or 'the root'}: {', '.join(keys)})"
