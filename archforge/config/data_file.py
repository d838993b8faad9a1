"""A model or search file is data: it may refer to its own config, never read the
environment or other files.

OmegaConf resolves `${oc.env:HOME}` or `${oc.decode:...}` whenever a value is read, and
Hydra adds `${hydra:...}`: a file written by someone else could copy an environment
variable into a run's config.yaml and a search's best_run.yaml, or build a value from one.
So every string of a `model=` / `search=` file (keys, values and the lines of its
`overrides:`) is scanned before anything is built, and a resolver outside PURE_RESOLVERS is
one ConfigError naming the file and the line. References to the config itself
(`${data.channels}`) and the resolvers that only read the config (`${oc.select:...}`, as the
zoo files use) stay allowed.

The scan is deliberately coarse: an escaped `\\${oc.env:X}` counts too (saved into
config.yaml and read back, it would resolve), and so does a resolver whose name is itself an
interpolation (`${${name}:X}`).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.events import ScalarEvent

from archforge.errors import ConfigError

# Resolvers that read nothing but the config they are part of.
PURE_RESOLVERS = ("oc.select", "oc.dict.keys", "oc.dict.values", "oc.create", "archforge.or")
# `${name:` or `${` followed by another interpolation in the name position.
_CALL = re.compile(r"\$\{\s*([\w.\-]*)\s*(:|\$\{)")


def refused_resolvers(value: str) -> list[str]:
    """The resolvers `value` calls that are not PURE_RESOLVERS (a computed name is shown
    as `name${...}`)."""
    if "${" not in value:
        return []
    out = []
    for name, sep in _CALL.findall(value):
        shown = name if sep == ":" else f"{name}${{...}}"
        if sep != ":" or name not in PURE_RESOLVERS:
            out.append(shown)
    return out


def why_refused(names: list[str]) -> str:
    listed = ", ".join(f"${{{n}:...}}" for n in dict.fromkeys(names))
    return (f"{listed} is not allowed: a model or search file is data and cannot read the "
            "environment or other files; write the value itself (references such as "
            f"${{data.channels}} and {', '.join(PURE_RESOLVERS)} are allowed)")


def check_resolvers(text: str, path: Path, key: str, loader: type = yaml.SafeLoader) -> None:
    """Refuse a file any of whose strings calls a resolver outside PURE_RESOLVERS: one
    ConfigError naming the file and the line. YAML syntax errors pass through."""
    if "${" not in text:
        return
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, ScalarEvent) and (names := refused_resolvers(event.value)):
            line = event.start_mark.line + 1
            raise ConfigError(key, f"{path}, line {line}: {why_refused(names)}")
