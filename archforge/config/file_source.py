"""A user's YAML file as a Hydra group option: `model=my_net.yaml`, `search=space.yaml`.

A Hydra `ConfigSource` (scheme `archforge-file://`, listed in `hydra.searchpath` of
conf/config.yaml and conf/build.yaml) answers for `<group>/<absolute path to a YAML file>`.
Hydra then composes the file exactly like a shipped option: the defaults list of the primary
config still applies (so a model file that leaves out `in_channels` inherits the data links of
config.yaml), overrides, sweeps (`model=a.yaml,b.yaml`), `.hydra/overrides.yaml` and launchers
all see the user's own value. `absolute_file_overrides` rewrites relative paths first: a
launcher may run the job in another working directory (a SLURM node).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from archforge.config.data_file import check_resolvers
from archforge.config.hydra_private import header_dict, register_source, yaml_loader
from archforge.config.yaml_guard import check_yaml_size
from archforge.errors import ConfigError

SCHEME = "archforge-file"
FILE_GROUPS = ("model", "search")
SUFFIXES = (".yaml", ".yml")
# Characters Hydra's override grammar takes unquoted in a value; anything else gets quoted.
_PLAIN = re.compile(r"^[\w./\\:@+-]+$")


def looks_like_file(value: str) -> bool:
    return value.endswith(SUFFIXES) or "/" in value or "\\" in value or value.startswith("~")


def read_yaml(path: Path, key: str) -> DictConfig:
    """Load a YAML mapping; a syntax error is one ConfigError naming the file and line."""
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(key, f"cannot read {path}: {exc}") from exc
    try:
        check_yaml_size(text, path, key, yaml_loader())  # before anything is built
        check_resolvers(text, path, key, yaml_loader())  # data: no ${oc.env:...}
        data = yaml.load(text, Loader=yaml_loader())
        if data is not None and not isinstance(data, dict):  # a scalar or a list
            raise ConfigError(key, f"{path} holds {type(data).__name__} {_short(data)}; "
                              "expected a mapping of keys to values")
        loaded = OmegaConf.create(data or {})
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(key, f"invalid YAML in {path}{where}: {problem}") from exc
    except ConfigError:
        raise
    except (OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(key, f"cannot read YAML file {path}: {exc}") from exc
    if not isinstance(loaded, DictConfig):
        raise ConfigError(key, f"{path} holds {type(loaded).__name__}; expected a mapping")
    return loaded


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def unwrap(cfg: DictConfig, group: str) -> DictConfig:
    """A file saved as `{model: {...}}` (a whole config's section) is the section itself."""
    if len(cfg) == 1 and group in cfg and isinstance(cfg[group], DictConfig):
        return cfg[group]
    return cfg


def _quote(path: str) -> str:
    if _PLAIN.match(path):
        return path
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


def absolute_file_overrides(overrides: Sequence[str], cwd: Path | None = None) -> list[str]:
    """`model=<file>` / `search=<file>` (also comma sweeps of files) with absolute paths.

    A missing file or a YAML syntax error is reported here, before Hydra composes anything.
    """
    base = cwd or Path.cwd()
    out: list[str] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        group = key.removeprefix("+").removeprefix("override ").strip()
        if not sep or group not in FILE_GROUPS or not value or value[0] in "[('\"":
            out.append(item)
            continue
        parts = value.split(",")
        if not any(looks_like_file(p) for p in parts):
            out.append(item)
            continue
        fixed = []
        for part in parts:
            if not looks_like_file(part):
                fixed.append(part)
                continue
            path = Path(os.path.expanduser(part))
            path = path if path.is_absolute() else base / path
            path = Path(os.path.normpath(path))
            read_yaml(path, group)
            fixed.append(_quote(str(path)))
        out.append(f"{key}={','.join(fixed)}")
    return out


def own_section_only(cfg: DictConfig, package: str | None, path: Path, group: str) -> None:
    """A model or search file describes its own section and nothing else: a `# @package`
    header that moves it elsewhere (`_global_` reaches `hydra.callbacks`, which Hydra calls)
    or a defaults list (which selects other configs, Hydra's own included) is refused."""
    if package not in (None, "", "_group_", group):
        raise ConfigError(group, f"{path}: '# @package {package}' is not allowed: a {group} "
                          f"file sets {group}.* only (elsewhere it could set hydra.* keys, "
                          "which run code); remove the header")
    if "defaults" in cfg:
        raise ConfigError(f"{group}.defaults", f"{path}: a {group} file cannot have a "
                          "defaults list (it would select other configs, Hydra's included); "
                          "write the values into the file")


class UserFileSource(ConfigSource):
    """Serves `<group>/<absolute path>.yaml` for the groups in FILE_GROUPS."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    @staticmethod
    def _split(config_path: str) -> tuple[str, Path] | None:
        group, sep, rest = config_path.partition("/")
        if not sep or group not in FILE_GROUPS or not rest.endswith(SUFFIXES):
            return None
        path = Path(rest)
        return (group, path) if path.is_absolute() and path.is_file() else None

    def load_config(self, config_path: str) -> ConfigResult:
        found = self._split(config_path)
        if found is None:
            raise ConfigLoadError(f"Config not found: {config_path}")
        group, path = found
        loaded = read_yaml(path, group)
        header = header_dict(path.read_text(encoding="utf-8")[:512])
        own_section_only(loaded, header.get("package"), path, group)
        cfg = unwrap(loaded, group)
        return ConfigResult(config=cfg, path=f"{SCHEME}://{path}", provider=self.provider,
                            header=header)

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return False

    def is_config(self, config_path: str) -> bool:
        return self._split(config_path) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        return []


def register() -> None:
    """Make the scheme known to Hydra (idempotent). Hydra pickles its registries into
    launcher jobs, and importing this module registers it again in a fresh process."""
    register_source(UserFileSource)


register()
