"""`{_target_: module.Class, **kwargs}` for outside objects (Optuna samplers and pruners).

A config that names a `_target_` names code that will be imported and called, so only
targets under an allowed module prefix are accepted: `optuna.samplers` and
`optuna.pruners`, plus the packages listed in `search.allowed_targets` (for example
`[mypkg.samplers]`). The prefix is checked on the string before anything is imported, and
again on the located object's own module before it is called, so a function re-exported
into an allowed module (`optuna.samplers.os.system`-like paths) is refused too.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

from archforge.errors import ConfigError

DEFAULT_ALLOWED = ("optuna.samplers", "optuna.pruners")


def is_allowed(dotted: str, allowed: Sequence[str]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in allowed)


def check_allowed(target: Any, key: str, extra: Sequence[str] = ()) -> str:
    """The target path, if it lies under an allowed prefix; nothing is imported."""
    allowed = (*DEFAULT_ALLOWED, *extra)
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(key, f"got {target!r}; expected a dotted import path")
    if not is_allowed(target.rpartition(".")[0], allowed):
        raise ConfigError(key, f"{target!r} is not under an allowed module "
                          f"({', '.join(allowed)}); a config can name code that is imported "
                          "and run, so other modules must be listed in search.allowed_targets")
    return target


def locate(target: Any, key: str, extra: Sequence[str] = ()) -> Any:
    """Import the allowed `target`; refuse an object defined outside the allowed modules."""
    target = check_allowed(target, key, extra)
    module_name, _, attr = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(key, f"cannot import {module_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(key, f"{module_name!r} has no attribute {attr!r}") from exc
    home = getattr(obj, "__module__", None) or ""
    if not callable(obj) or not is_allowed(home, (*DEFAULT_ALLOWED, *extra)):
        raise ConfigError(key, f"{target!r} is {type(obj).__name__} from module {home!r}, not a "
                          "class or factory of an allowed module")
    return obj


def instantiate_target(spec: dict[str, Any], key: str, base: type,
                       extra: Sequence[str] = ()) -> Any:
    """Build `spec` if its target is allowed and (for a class) a subclass of `base`."""
    kwargs = dict(spec)
    factory = locate(kwargs.pop("_target_"), f"{key}._target_", extra)
    if inspect.isclass(factory) and not issubclass(factory, base):
        raise ConfigError(f"{key}._target_", f"{factory.__name__} is not an Optuna "
                          f"{base.__name__.removeprefix('Base').lower()}")
    try:
        obj = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"{spec['_target_']}: {exc}") from exc
    if not isinstance(obj, base):
        raise ConfigError(f"{key}._target_", f"{type(obj).__name__} is not an Optuna "
                          f"{base.__name__.removeprefix('Base').lower()}")
    return obj
