"""Which modules a `_target_` may name besides Optuna's samplers and pruners.

A config file can be written by someone else, so a file can never extend this list (a
search file listing `allowed_targets: [posix]` next to `_target_: posix.system` would protect
nothing). The person running the command names the modules, in any of three places (the
lists add up):

- the command line: `archforge search ... search.allowed_targets=[mypkg.samplers]`;
- the environment: `ARCHFORGE_ALLOWED_TARGETS=mypkg.samplers,otherpkg.pruners`;
- the user's own config dir: `$XDG_CONFIG_HOME/archforge/allowed_targets` (by default
  `~/.config/archforge/allowed_targets`), one module per line, `#` comments.

`search.allowed_targets` set anywhere but the command line (a search YAML file, its
`overrides`) is refused with a ConfigError naming the file and line: the search's callers
pass only the person's own arguments as `command_line` (archforge/search/runtime/prepare.py
splits the search file's overrides off; archforge/config/search_file.py refuses
`search.*` and `hydra.*` among them, so `+hydra.job.env_set.ARCHFORGE_ALLOWED_TARGETS` never
reaches the environment read here).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from archforge.errors import ConfigError

ENV = "ARCHFORGE_ALLOWED_TARGETS"
KEY = "search.allowed_targets"
HOW_TO_ALLOW = (f"{KEY}=[module] on the command line, {ENV}=module in the environment or "
                "a line in ~/.config/archforge/allowed_targets")
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def user_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "archforge" / "allowed_targets"


def _checked(names: Sequence[str], where: str) -> list[str]:
    for name in names:
        if not _MODULE.fullmatch(name):
            raise ConfigError(where, f"got {name!r}; expected a module path such as "
                              "mypkg.samplers")
    return list(names)


def from_environment() -> list[str]:
    raw = os.environ.get(ENV, "")
    return _checked([n.strip() for n in re.split(r"[,:\s]+", raw) if n.strip()], ENV)


def from_user_file() -> list[str]:
    path = user_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from exc
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return _checked([n for n in names if n], str(path))


def on_command_line(args: Sequence[str]) -> bool:
    """`search.allowed_targets=...` (or `hydra.sweeper.search.allowed_targets=...`)."""
    keys = [a.partition("=")[0].lstrip("+").strip() for a in args]
    return any(k == KEY or k.endswith(f".{KEY}") for k in keys)


def trusted_targets(configured: Sequence[str], command_line: Sequence[str],
                    source: str = "a config file") -> list[str]:
    """The allowed modules: the config's `search.allowed_targets` only if the person's own
    `command_line` (never a search file's `overrides`) set it, plus the environment's and
    the user file's. `source` names where a refused list came from."""
    if configured and not on_command_line(command_line):
        raise ConfigError(KEY, f"set by {source} ({list(configured)}); a file cannot "
                          "allow the code it names. Allow modules yourself: " + HOW_TO_ALLOW)
    return [*configured, *from_environment(), *from_user_file()]
