"""Hydra composition: zoo names, YAML files and mappings become one DictConfig.

Hydra is used only here and in the CLI. `model=<path to a .yaml file>` is accepted
wherever a zoo name is: the file is a group option served through Hydra's search path
(archforge/config/file_source.py), so the primary config's defaults (the data links) apply
to it as to a zoo file, and `model.*` overrides are then applied with Hydra's own grammar.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Glob
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from archforge.config.file_source import (
    FILE_GROUPS,
    absolute_file_overrides,
    read_yaml,
    unwrap,
)
from archforge.errors import ConfigError, closest, describe_choices
from archforge.plain import to_plain

LATE_GROUPS = ("model.", "search.")


def _first_set(value: Any, default: Any) -> Any:
    return default if value is None else value


# conf/config.yaml: `hydra.run.dir: ${archforge.or:${run_dir},'outputs/...'}`; OmegaConf's own
# `oc.select` returns a null value as is, so `run_dir: null` needs this to fall back.
if not OmegaConf.has_resolver("archforge.or"):
    OmegaConf.register_new_resolver("archforge.or", _first_set)


def conf_dir() -> Path:
    """The shipped `conf/` folder (installed as the `archforge_conf` package)."""
    return Path(str(files("archforge_conf")))


def natural_key(name: str) -> tuple[tuple[int, str | int], ...]:
    """Sort key that orders digit runs by value: resnet18 < resnet34 < resnet101."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name) if t)


# conf/model/search_*.yaml are starting points of shipped search spaces (`model=search_mixed`
# in conf/search/mixed_families.yaml), not published networks: no zoo listing.
SEARCH_MODEL_PREFIX = "search_"


def zoo_names() -> list[str]:
    """The published models of conf/model, in natural order (what `archforge zoo` lists)."""
    names = (p.stem for p in (conf_dir() / "model").glob("*.yaml"))
    return sorted((n for n in names if not n.startswith(SEARCH_MODEL_PREFIX)), key=natural_key)


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
                value = ov.value()
                # a search mapping that names its kind (`search.pruner={name: median}`)
                # replaces the old one: merged into a hyperband preset it would inherit
                # hyperband's options
                kind = (key.startswith("search.") and isinstance(value, dict)
                        and bool({"name", "_target_"} & set(value)))
                OmegaConf.update(cfg, key, value, merge=not kind, force_add=ov.is_add())
        except OmegaConfBaseException as exc:
            raise ConfigError(key, str(exc).splitlines()[0]) from exc


@contextlib.contextmanager
def nesting_guard() -> Iterator[None]:
    """OmegaConf builds nested values recursively: a value nested a few hundred levels deep
    (`+model.block_options.x=[[[[...]]]]`) exhausts Python's stack. That is a bad value, not
    a crash."""
    try:
        yield
    except RecursionError as exc:
        raise ConfigError("overrides", "a value is nested too deeply to be a configuration "
                          "(hundreds of levels of [] or {})") from exc


def compose(overrides: Sequence[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose `conf/<config_name>.yaml` with command-line style overrides."""
    with nesting_guard():
        return _compose(list(overrides or []), config_name)


def check_group_values(overrides: Sequence[str]) -> None:
    """`trainer=[1]`, `optim=5`: a config group takes option names; anything else is one
    ConfigError naming the group (Hydra would raise a TypeError or ValueError)."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:
        return  # explained where Hydra reports it
    for ov in parsed:
        group = ov.key_or_group
        if ov.is_delete() or "." in group or not (conf_dir() / group).is_dir():
            continue
        value = ov.value()
        if isinstance(value, Glob):
            continue
        options = value.list if isinstance(value, ChoiceSweep) else (
            value if isinstance(value, list) else [value])
        if not all(o is None or isinstance(o, str) for o in options):
            files = " (or a YAML file)" if group in FILE_GROUPS else ""
            shown = options if isinstance(value, ChoiceSweep) else value
            raise ConfigError(group, f"got {shown!r}; expected an option of conf/{group}/{files}: "
                              f"{', '.join(group_options(group))}")


def _compose(overrides: list[str], config_name: str) -> DictConfig:
    check_group_values(overrides)
    rest = schema_overrides(absolute_file_overrides(overrides))
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
    except (HydraException, OmegaConfBaseException) as exc:
        raise explain(exc, overrides, config_name) from exc
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_struct(cfg, False)
    return cfg


_NO_KEY = re.compile(r"Could not override '([^']+)'")
_TAKEN = re.compile(r"An item is already at '([^']+)'")


def explain(
    exc: BaseException, overrides: Sequence[str], config_name: str = "config"
) -> ConfigError:
    """One ConfigError for a Hydra or OmegaConf composition error: the key, the value and
    what is accepted (the closest existing key for a typo, the options of a group)."""
    cause: BaseException | None = exc
    while cause is not None:  # raised by archforge inside Hydra (a user's YAML file)
        if isinstance(cause, ConfigError):
            return cause
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if match := _NO_KEY.search(text):
        return unknown_key(match.group(1), overrides, config_name)
    if match := _TAKEN.search(text):
        key = match.group(1)
        return ConfigError(key, f"already set; override it with {key}=VALUE (no '+')")
    for item in overrides:
        key, _, value = item.partition("=")
        group = key.lstrip("+~")
        if not (conf_dir() / group).is_dir():
            continue
        for option in value.split(","):
            if f"'{group}/{option}'" in text:
                return ConfigError(group, f"unknown {group} {option!r}; "
                                   f"{describe_choices(option, group_options(group))}")
    # a line ending in ":" introduces a listing (Hydra's "Config search path:"): not shown
    lines = [line.strip() for line in text.strip().splitlines()
             if line.strip() and not line.strip().endswith(":")]
    return ConfigError("overrides", "; ".join(lines[:2]) if lines else type(exc).__name__)


def _base_for_hints(overrides: Sequence[str], config_name: str) -> DictConfig | None:
    """The config the user is overriding (group choices applied), to look up known keys."""
    choices = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and (conf_dir() / key).is_dir() and "," not in value and "(" not in value:
            choices.append(item)
    for attempt in (choices, []):
        try:
            with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
                return hydra_compose(config_name=config_name, overrides=attempt)
        except Exception:  # only hints are at stake: any failure means "no hint"
            continue
        finally:
            GlobalHydra.instance().clear()
    return None


def schema_fields(prefix: list[str]) -> set[str]:
    """The keys the typed schema defines for the section at `prefix` (model, model.stem,
    model.stages.N, optim, trainer, search, ...): valid even where a YAML file leaves them
    out. The sections and their dataclasses are the `section(...)` fields of `Run`."""
    from archforge.config.run import SECTIONS, RunKeys

    if not prefix:
        return {f.name for f in dataclasses.fields(RunKeys)} | set(SECTIONS)
    info = SECTIONS.get(prefix[0])
    node: Any = info.schema if info is not None else None
    for part in prefix[1:]:
        node = _member(node, part)
    if not (dataclasses.is_dataclass(node) and isinstance(node, type)):
        return set()
    return {f.name for f in dataclasses.fields(node)} - {"extra"}


def _member(node: Any, part: str) -> Any:
    """The type of `part` (a field name, or an index into a list) inside type `node`."""
    args = [a for a in typing.get_args(node) if a is not type(None)]
    if typing.get_origin(node) in (typing.Union, types.UnionType) and len(args) == 1:
        node = args[0]  # X | None
    if typing.get_origin(node) is list and part.isdigit():
        return typing.get_args(node)[0]
    if dataclasses.is_dataclass(node) and isinstance(node, type):
        return typing.get_type_hints(node).get(part)
    return None


def schema_overrides(overrides: Sequence[str]) -> list[str]:
    """`model.width=0.5` sets a key of the typed schema whether or not the selected YAML file
    states it: such overrides become Hydra's `++` (add or override), so the user never has to
    know which keys a zoo file happens to spell out. Other keys keep Hydra's rules (a typo is
    still an error with the closest key)."""
    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.split(".")
        if sep and len(parts) > 1 and not key.startswith(("+", "~", "hydra.")) \
                and parts[-1] in schema_fields(parts[:-1]):
            item = f"++{key}={value}"
        out.append(item)
    return out


def unknown_key(key: str, overrides: Sequence[str], config_name: str = "config") -> ConfigError:
    """`trainer.max_epoch`: did you mean trainer.max_epochs? The closest key comes first (Hydra's
    bare '+key' advice would turn a typo into a new key); how to add a new key comes after."""
    value = next((i.partition("=")[2] for i in overrides if i.partition("=")[0] == key), "VALUE")
    cfg = _base_for_hints(overrides, config_name)
    node: Any = cfg
    prefix: list[str] = []
    for part in key.split("."):
        if isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]  # model.stages.1.<key>
        elif isinstance(node, DictConfig) and part in node:
            node = node[part]
        else:
            break
        prefix.append(part)
    if not isinstance(node, DictConfig):
        return ConfigError(key, "no such key")
    missing = key.split(".")[len(prefix)]
    where = ".".join(prefix)
    fields = schema_fields(prefix) if prefix else set()
    if missing in fields and len(prefix) == key.count("."):  # a real key the file leaves out
        return ConfigError(key, f"is a valid key that this config does not set; add it with "
                           f"+{key}={value}")
    known = sorted({str(k) for k in node} | fields)
    hint = closest(missing, known)
    if hint is not None:
        return ConfigError(key, f"no such key; did you mean {'.'.join([*prefix, hint])}? "
                           f"(a key new to this config is added with +{key}={value})")
    section = where or "the config"
    return ConfigError(key, f"no such key in {section} (keys: {', '.join(sorted(known))}); "
                       f"a new key for an open section is added with +{key}={value}")


def model_mapping(
    source: str | Path | Mapping[str, Any] | DictConfig, overrides: Sequence[str] | None = None
) -> dict[str, Any]:
    """The resolved model mapping for a zoo name, a YAML path, or a mapping.

    Overrides are written as on the command line: `model.*` keys, and the data the model
    follows (`data=digits`, `data.image_size=32`), as `archforge train` takes them. A model
    file that leaves out in_channels, num_classes or input_size follows the selected data,
    and without `data=` train's default data, so `build("my_net.yaml")` is the network
    `archforge train model=my_net.yaml` trains.
    """
    overrides = list(overrides or [])
    data = [o for o in overrides if o.lstrip("+~").partition("=")[0].split(".")[0] == "data"]
    for item in overrides:
        if item not in data and not item.lstrip("+~").startswith("model."):
            raise ConfigError(item, "overrides must set model keys ('model.width=0.5') or the "
                              "data the model follows ('data=digits', 'data.image_size=32')")
    if isinstance(source, str | Path):  # a zoo name or a YAML file
        cfg = compose([f"model={source}", *overrides], config_name="build")
    else:
        base = source if isinstance(source, DictConfig) else OmegaConf.create(dict(source))
        cfg = OmegaConf.create({"model": base})
        apply_overrides(cfg, [o for o in overrides if o not in data])
        if data:  # a mapping's left-out in_channels, num_classes, input_size follow it
            cfg.data = compose(data, config_name="build").data
    if cfg.get("data") is None:
        return to_plain(cfg.model, "model")
    from archforge.config.follow_data import follow_data

    resolved, _ = follow_data(to_plain(cfg, "config"))
    return dict(resolved["model"])
