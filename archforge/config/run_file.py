"""A run file (a search winner's `best_run.yaml`): a fully resolved run config that is also a
Hydra primary config, so that `archforge train -cd <study> -cn best_run` retrains it as it
was searched and still takes presets (`trainer=gpu`, `optim=adamw`).

The file holds, in this order:

- `defaults`: the presets the trial composed (`model: resnet20`, `data: digits`,
  `trainer: cpu`, `optim: sgd`), then `_self_`. With no preset on the command line, the
  file's own values come last and replace every value of those presets: the retrain is the
  trial's config, value for value.
- the resolved values (everything the trial trained with, its torch threads included);
- the `hydra` section of conf/config.yaml (log lines on stderr, the run directory), so the
  retrain behaves like any `archforge train`.

A preset named on the command line (`optim=adamw`) is applied by `apply_presets` after Hydra
composed: every value the trial took from its old preset becomes the new preset's value;
every value the search or its command line set (a different value than the old preset's)
stays, as `trainer=gpu` next to `search.overrides: [trainer.max_epochs=2]` would compose.
Plain Python (`parse_run(OmegaConf.load(path))`) ignores `defaults` and `hydra`
(config/run.py, `HYDRA_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from archforge.config.compose import compose, conf_dir
from archforge.config.file_source import absolute_file_overrides
from archforge.config.run import HYDRA_KEYS

# Config groups a run file records and a retrain may swap (conf/<group>/).
PRESET_GROUPS = ("model", "data", "trainer", "optim")


def is_run_file(path: Path) -> bool:
    return path.stem == "best_run" or path.stem.startswith("run_")


def _config_yaml() -> dict[str, Any]:
    return dict(yaml.safe_load((conf_dir() / "config.yaml").read_text()) or {})


def preset_choices(overrides: Sequence[str]) -> dict[str, str]:
    """The option of each preset group that `conf/config.yaml` plus `overrides` selects."""
    choices: dict[str, str] = {}
    for entry in _config_yaml().get("defaults", []):
        if isinstance(entry, Mapping):
            for group, option in entry.items():
                if group in PRESET_GROUPS and option is not None:
                    choices[group] = str(option)
    for item in absolute_file_overrides(list(overrides)):
        key, sep, value = item.partition("=")
        if sep and key.lstrip("+") in PRESET_GROUPS and "," not in value:
            choices[key.lstrip("+")] = value.strip("'\"")
    return choices


def defaults_list(choices: Mapping[str, str]) -> list[Any]:
    """conf/config.yaml's defaults with the trial's presets and `_self_` last (the resolved
    values win); no search group (a retrain is not a search)."""
    out: list[Any] = []
    for entry in _config_yaml().get("defaults", []):
        if entry == "_self_":
            continue
        if isinstance(entry, Mapping):
            group = next(iter(entry))
            if group == "search":
                continue
            if group in choices:
                entry = {group: choices[group]}
        out.append(entry)
    return [*out, "_self_"]


def hydra_section() -> dict[str, Any]:
    """conf/config.yaml's `hydra` section, interpolations unresolved."""
    return dict(_config_yaml().get("hydra") or {})


def file_document(choices: Mapping[str, str], resolved: Mapping[str, Any]) -> dict[str, Any]:
    """The run file's content: defaults, the resolved run (`run_dir` null), hydra."""
    return {"defaults": defaults_list(choices), **resolved, "run_dir": None,
            "hydra": hydra_section()}


def recorded_choices(path: Path) -> dict[str, str] | None:
    """The presets a run file names in its defaults list; None for any other config."""
    if not is_run_file(path) or not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("defaults"), list):
        return None
    return {str(group): str(option) for entry in data["defaults"] if isinstance(entry, Mapping)
            for group, option in entry.items() if group in PRESET_GROUPS}


_MISSING = object()


def _leaves(node: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(node, Mapping) and node:
        out: dict[tuple[str, ...], Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: node} if prefix else {}


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _covered(path: tuple[str, ...], explicit: Iterable[str]) -> bool:
    dotted = ".".join(path)
    return any(dotted == k or dotted.startswith(f"{k}.") or k.startswith(f"{dotted}.")
               for k in explicit)


def _composed(choices: Mapping[str, str]) -> dict[str, Any]:
    cfg = compose([f"{g}={v}" for g, v in choices.items()], "config")
    data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def apply_presets(cfg: DictConfig, recorded: Mapping[str, str], chosen: Mapping[str, str],
                  explicit: Iterable[str]) -> dict[str, str]:
    """Swap the presets the command line changed (`chosen` differs from `recorded`): each
    value that equals the old presets' composition becomes the new one's (removed where the
    new one lacks it); values set by the search or by `explicit` keys stay. Returns the
    changed groups."""
    changed = {g: v for g, v in chosen.items() if g in recorded and recorded[g] != v}
    if not changed:
        return {}
    explicit = list(explicit)
    before = _composed(recorded)
    after = _composed({**recorded, **changed})
    current = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    for path, old in _leaves(before).items():  # a key only the new preset has is in cfg
        if path[0] in HYDRA_KEYS or _covered(path, explicit) or _get(current, path) != old:
            continue  # the search (or its command line) set this value: it stays
        new = _get(after, path)
        parent = cfg if len(path) == 1 else OmegaConf.select(cfg, ".".join(path[:-1]))
        if not isinstance(parent, DictConfig):
            continue
        with open_dict(parent):
            if new is _MISSING:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = new
    return changed
