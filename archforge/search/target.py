"""`{_target_: module.Class, **kwargs}` for outside objects (Optuna samplers and pruners).

A config that names a `_target_` names code that will be imported and called, so only
targets under an allowed module prefix are accepted: `optuna.samplers` and
`optuna.pruners`, plus the packages the person running the command allows
(archforge/search/allow_list.py: the command line, `ARCHFORGE_ALLOWED_TARGETS` or the user's
config dir, never a config file). The prefix is checked on the string before anything is
imported, and again on the located object's own module, so a function re-exported into an
allowed module (`optuna.samplers.os.system`-like paths) is refused too. Nothing is called
before its type is known: a class must be a subclass of the expected base, a factory must
declare it returns one.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Sequence
from typing import Any

from archforge.errors import ConfigError
from archforge.search.allow_list import HOW_TO_ALLOW

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
                          f"and run, so other modules must be allowed by you: {HOW_TO_ALLOW}")
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


def _declared_return(factory: Any) -> Any:
    try:
        return typing.get_type_hints(factory).get("return")
    except Exception:  # unresolvable or missing annotations: the type is not known
        return None


def check_type(factory: Any, key: str, base: type) -> None:
    """Before any call: a class must subclass `base`; a function must declare that it
    returns a `base` (`def my_sampler(seed: int) -> optuna.samplers.BaseSampler`)."""
    kind = f"an Optuna {base.__name__.removeprefix('Base').lower()}"
    if inspect.isclass(factory):
        if not issubclass(factory, base):
            raise ConfigError(key, f"{factory.__name__} is not {kind}")
        return
    returns = _declared_return(factory)
    if not (inspect.isclass(returns) and issubclass(returns, base)):
        name = getattr(factory, "__qualname__", type(factory).__name__)
        raise ConfigError(key, f"{name} is not a class, and does not declare that it returns "
                          f"{kind} (a factory needs the return annotation -> "
                          f"{base.__module__.rsplit('.', 1)[0]}.{base.__name__}); it was not "
                          "called")


def instantiate_target(spec: dict[str, Any], key: str, base: type,
                       extra: Sequence[str] = ()) -> Any:
    """Build `spec` if its target is allowed and known, before the call, to build a
    `base` (a subclass, or a factory annotated to return one)."""
    kwargs = dict(spec)
    factory = locate(kwargs.pop("_target_"), f"{key}._target_", extra)
    check_type(factory, f"{key}._target_", base)
    try:
        obj = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"{spec['_target_']}: {exc}") from exc
    if not isinstance(obj, base):
        raise ConfigError(f"{key}._target_", f"{type(obj).__name__} is not an Optuna "
                          f"{base.__name__.removeprefix('Base').lower()}")
    return obj
