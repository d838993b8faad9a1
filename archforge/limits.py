"""Upper bounds on what a config file or a sweep may ask of the machine before any work.

A YAML "billion laughs" file (nine levels of aliases, each repeating the previous nine
times) is 1 KB on disk and hundreds of millions of values in memory; a file nested
thousands of levels deep exhausts the stack of any recursive reader; `-m
seed='range(0,1000000000)'` asks for a billion jobs. Each is refused with one line before
it is expanded. Like the model limits (archforge/model/limits.py) every bound can be raised
for a run through `ARCHFORGE_<NAME>`, e.g. `ARCHFORGE_MAX_SWEEP_JOBS=50000` (`from_env`,
which the model limits use too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigLimits:
    max_yaml_nodes: int = 100_000  # values in one YAML file, every alias expanded
    max_yaml_depth: int = 64  # levels of nested mappings/lists in one YAML file
    max_sweep_jobs: int = 10_000  # jobs of one `-m` sweep
    max_data_mb: int = 65_536  # a generated data set (data=synthetic), decoded


def config_limits() -> ConfigLimits:
    return from_env(ConfigLimits)


def raise_hint(name: str) -> str:
    return f"raise the limit with ARCHFORGE_{name.upper()}=N if this is intended"


def from_env(cls: type[T]) -> T:
    """A limits dataclass with each field's `ARCHFORGE_<NAME>` environment override."""
    values: dict[str, int | float] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = os.environ.get(f"ARCHFORGE_{f.name.upper()}")
        if raw is None:
            continue
        try:
            values[f.name] = float(raw) if f.type in (float, "float") else int(raw)
        except ValueError as exc:
            raise ValueError(f"ARCHFORGE_{f.name.upper()}={raw!r} is not a number") from exc
    made: Any = cls(**values)
    return made
