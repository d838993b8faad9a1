"""Hydra composition: zoo names, YAML files and mappings become one DictConfig.

Hydra is used only here and in the CLI. `model=<path to a .yaml file>` is accepted
wherever a zoo name is: the file is a group option served through Hydra's search path
(archforge/config/file_source.py), so the primary config's defaults (the data links) apply
to it as to a zoo file, and `model.*` overrides are then applied with Hydra's own grammar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from archforge.config.file_source import absolute_file_overrides, read_yaml, unwrap
from archforge.errors import ConfigError, describe_choices

LATE_GROUPS = ("model.", "search.")


def conf_dir() -> Path:
    """The shipped `conf/` folder (installed as the `archforge_conf` package)."""
    return Path(str(files("archforge_conf")))


def zoo_names() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml"))


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def load_yaml(path: str | Path, key: str) -> DictConfig:
    """A YAML mapping from `path` (a file saved as `{model: {...}}` is its section)."""
    return unwrap(read_yaml(Path(path).expanduser(), key), key)


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """Apply `a.b.1.c=v`, `+a.b=v` and `~a.b` overrides with Hydra's grammar."""
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError("overrides", str(exc).splitlines()[0]) from exc
    for ov in parsed:
        key = ov.key_or_group
        try:
            if ov.is_delete():
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(cfg, parent) if parent else cfg
                if node is None or leaf not in node:
                    raise ConfigError(key, "cannot delete: no such key")
                del node[leaf]
            else:
                OmegaConf.update(cfg, key, ov.value(), merge=True, force_add=ov.is_add())
        except OmegaConfBaseException as exc:
            raise ConfigError(key, str(exc).splitlines()[0]) from exc


def compose(overrides: Sequence[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose `conf/<config_name>.yaml` with command-line style overrides."""
    rest = absolute_file_overrides(list(overrides or []))
    # Values inside model/search are checked by archforge's own schema (which names the key
    # and suggests the closest one), so they are applied after Hydra, outside its struct mode;
    # that also lets open mappings such as `model.block_options` take new keys.
    late = [o for o in rest if o.lstrip("+~").startswith(LATE_GROUPS)]
    early = [o for o in rest if o not in late]
    cfg = _hydra_compose(config_name, early)
    if late:
        OmegaConf.set_struct(cfg, False)
        apply_overrides(cfg, late)
    return cfg


def _hydra_compose(config_name: str, overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=overrides)
    except HydraException as exc:
        raise _explain(exc, overrides) from exc
    except OmegaConfBaseException as exc:
        raise ConfigError("overrides", str(exc).splitlines()[0]) from exc
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_struct(cfg, False)
    return cfg


def _explain(exc: HydraException, overrides: list[str]) -> ConfigError:
    text = str(exc)
    for item in overrides:
        key, _, value = item.partition("=")
        group = key.lstrip("+~")
        if (conf_dir() / group).is_dir() and f"'{group}/{value}'" in text:
            return ConfigError(
                group, f"unknown {group} {value!r}; {describe_choices(value, group_options(group))}"
            )
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return ConfigError("overrides", "; ".join(lines[:2]) if lines else type(exc).__name__)


def to_plain(node: DictConfig | Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """`node` as a plain dict with interpolations resolved; a broken `${...}` or a value that
    is not a mapping is a ConfigError naming `key`."""
    if isinstance(node, DictConfig):
        try:
            data = OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(key, str(exc).splitlines()[0]) from exc
    else:
        data = node
    if not isinstance(data, Mapping):
        raise ConfigError(key, f"got {data!r}; expected a mapping")
    return {str(k): v for k, v in data.items()}


def model_mapping(
    source: str | Path | Mapping[str, Any] | DictConfig, overrides: Sequence[str] | None = None
) -> dict[str, Any]:
    """The resolved model mapping for a zoo name, a YAML path, or a mapping.

    Overrides are written as on the command line, with the `model.` prefix.
    """
    overrides = list(overrides or [])
    for item in overrides:
        if not item.lstrip("+~").startswith("model."):
            raise ConfigError(item, "model overrides must start with 'model.'")
    if isinstance(source, str | Path):  # a zoo name or a YAML file
        cfg = compose([f"model={source}", *overrides], config_name="build")
    else:
        base = source if isinstance(source, DictConfig) else OmegaConf.create(dict(source))
        cfg = OmegaConf.create({"model": base})
        apply_overrides(cfg, overrides)
    return to_plain(cfg.model, "model")
