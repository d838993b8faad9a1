"""Upper bounds on what a config file or a sweep may ask of the machine before any work.

A YAML "billion laughs" file (nine levels of aliases, each repeating the previous nine
times) is 1 KB on disk and hundreds of millions of values in memory; a file nested
thousands of levels deep exhausts the stack of any recursive reader; `-m
seed='range(0,1000000000)'` asks for a billion jobs. Each is refused with one line before
it is expanded. Like the model limits (archforge/model/limits.py) every bound can be raised
for a run through `ARCHFORGE_<NAME>`, e.g. `ARCHFORGE_MAX_SWEEP_JOBS=50000` (`from_env`,
which the model limits use too). A variable is checked itself before it is used: a whole
number >= 1 (a positive number for a float limit), and no more than its field's ceiling in
`CEILINGS`, where one exists; anything else is one ConfigError naming the variable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from archforge.errors import ConfigError

T = TypeVar("T")

# The most a variable may raise a limit to. PyYAML's composer and OmegaConf build a nested
# document recursively (about a dozen Python frames per level): past about 70 levels Python's
# default stack of 1,000 frames overflows while `archforge` reads the file, so the depth
# limit cannot usefully go above its default.
CEILINGS: dict[str, tuple[int, str]] = {
    "max_yaml_depth": (64, "deeper files overflow Python's stack while they are read"),
}


@dataclass(frozen=True)
class ConfigLimits:
    max_yaml_nodes: int = 100_000  # values in one YAML file, every alias expanded
    max_yaml_depth: int = 64  # levels of nested mappings/lists in one YAML file
    max_sweep_jobs: int = 10_000  # jobs of one `-m` sweep
    max_data_mb: int = 65_536  # a generated data set (data=synthetic), decoded
    # files and folders under a data folder that a checkpoint names (data/stored_folders.py)
    max_stored_folder_files: int = 100_000


def config_limits() -> ConfigLimits:
    return from_env(ConfigLimits)


def raise_hint(name: str) -> str:
    return f"raise the limit with ARCHFORGE_{name.upper()}=N if this is intended"


def from_env(cls: type[T]) -> T:
    """A limits dataclass with each field's `ARCHFORGE_<NAME>` environment override."""
    values: dict[str, int | float] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = f"ARCHFORGE_{f.name.upper()}"
        raw = os.environ.get(name)
        if raw is not None:
            values[f.name] = env_limit(name, raw, f.type in (float, "float"),
                                       *CEILINGS.get(f.name, (None, "")))
    made: Any = cls(**values)
    return made


def env_limit(name: str, raw: str, real: bool, ceiling: int | None = None,
              why: str = "") -> int | float:
    """The value of limit variable `name`, checked: >= 1 (> 0 for a float), at most
    `ceiling` (`why`: the reason it stops there)."""
    top = f" and <= {ceiling:,}" if ceiling is not None else ""
    wanted = f"a finite number > 0{top}" if real else f"an integer >= 1{top}"
    value: int | float
    try:
        value = float(raw) if real else int(raw.strip())
    except ValueError:
        value = math.nan
    ok = math.isfinite(value) and value > 0 if isinstance(value, float) else value >= 1
    if not ok:
        raise ConfigError(name, f"got {raw!r}; expected {wanted}")
    if ceiling is not None and value > ceiling:
        raise ConfigError(name, f"got {raw!r}; expected {wanted} ({why})")
    return value
