"""`{_target_: module.Class, **kwargs}` for outside objects (Optuna samplers and pruners)."""

from __future__ import annotations

import importlib
from typing import Any

from archforge.errors import ConfigError


def locate(target: Any, key: str) -> Any:
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(key, f"got {target!r}; expected a dotted import path")
    module_name, _, attr = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(key, f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(key, f"{module_name!r} has no attribute {attr!r}") from exc


def instantiate_target(spec: dict[str, Any], key: str) -> Any:
    kwargs = dict(spec)
    factory = locate(kwargs.pop("_target_"), f"{key}._target_")
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"{spec['_target_']}: {exc}") from exc
