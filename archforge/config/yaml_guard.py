"""Measure a YAML document before building it: its size with every alias expanded, and its
nesting depth.

PyYAML's parser produces events without recursion and an alias costs one event, so the
document's expanded size is counted in one linear pass (an anchor's size is counted once,
then added per alias) and nothing is built before the limits are checked
(archforge/limits.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)

from archforge.errors import ConfigError
from archforge.limits import CEILINGS, config_limits, raise_hint


def check_yaml_size(text: str, path: Path, key: str, loader: type = yaml.SafeLoader) -> None:
    """Refuse a document whose expanded size or depth exceeds the limits (one ConfigError
    naming the file); YAML syntax errors pass through as `yaml.YAMLError`."""
    lim = config_limits()
    open_sizes: list[int] = []  # one counter per open mapping/list
    open_anchors: list[str | None] = []
    anchors: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text, Loader=loader):
        size = 0
        if isinstance(event, CollectionStartEvent):
            open_sizes.append(1)
            open_anchors.append(event.anchor)
            if len(open_sizes) > lim.max_yaml_depth:
                raise ConfigError(key, f"{path} nests mappings/lists more than "
                                  f"{lim.max_yaml_depth} levels deep (line "
                                  f"{event.start_mark.line + 1}); "
                                  f"{_depth_hint(lim.max_yaml_depth)}")
        elif isinstance(event, CollectionEndEvent):
            size = open_sizes.pop()
            anchor = open_anchors.pop()
            if anchor is not None:
                anchors[anchor] = size
        elif isinstance(event, ScalarEvent):
            size = 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        elif isinstance(event, AliasEvent):
            size = anchors.get(event.anchor or "", 1)
        if not size:
            continue
        if open_sizes:
            open_sizes[-1] += size
        else:
            total += size
        if max(total, open_sizes[-1] if open_sizes else 0) > lim.max_yaml_nodes:
            raise ConfigError(key, f"{path} expands to more than {lim.max_yaml_nodes:,} "
                              f"values (aliases such as *name repeat what they name; line "
                              f"{event.start_mark.line + 1}); {raise_hint('max_yaml_nodes')}")


def _depth_hint(depth: int) -> str:
    ceiling, why = CEILINGS["max_yaml_depth"]
    if depth < ceiling:
        return raise_hint("max_yaml_depth") + f" (at most {ceiling})"
    return f"{ceiling} levels is the most archforge reads: {why}"
