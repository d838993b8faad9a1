"""`key=value` arguments of the commands that take no Hydra config (`predict`, `export`).

Each command declares its keys and their types; a typo gets the closest known key, a bad
value one ConfigError naming its key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archforge.errors import ConfigError, describe_choices


def _convert(kind: type, raw: str, key: str) -> Any:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(key, f"got {raw!r}; expected an integer") from None
    if kind is Path:
        if not raw:
            raise ConfigError(key, "got an empty path")
        return Path(raw).expanduser()
    return raw


def parse_key_values(
    args: Sequence[str],
    keys: Mapping[str, type],
    command: str,
    required: Sequence[str] = (),
) -> dict[str, Any]:
    """`['checkpoint=a.ckpt', 'top_k=3']` -> `{'checkpoint': Path('a.ckpt'), 'top_k': 3}`.

    `keys` maps each accepted key to `str`, `int` or `Path`; `required` keys must be given.
    """
    usage = " ".join(f"{k}=..." if k in required else f"[{k}=...]" for k in keys)
    values: dict[str, Any] = {}
    for arg in args:
        key, sep, raw = arg.partition("=")
        if not sep or not key:
            raise ConfigError(arg, f"expected key=value; archforge {command} {usage}")
        if key not in keys:
            raise ConfigError(
                key, f"unknown key for `archforge {command}`; {describe_choices(key, keys)}"
            )
        if key in values:
            raise ConfigError(key, "given twice")
        values[key] = _convert(keys[key], raw, key)
    for key in required:
        if key not in values:
            raise ConfigError(key, f"missing; archforge {command} {usage}")
    return values
