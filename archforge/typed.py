"""Turn plain mappings into typed dataclasses, with errors that name the config path.

Only the types the schema and plugin signatures use are supported: int, float, str, bool,
Any, None, Literal, unions, list/tuple of those, dict[str, X] and nested dataclasses.

A float must be finite: no config value in archforge means anything at infinity or NaN
(`optim.lr=inf` would otherwise train to a NaN loss and exit 0). A dataclass may define
`check(self, path)` for range rules its types cannot express; `from_mapping` calls it, so a
section is never half-validated.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from archforge.errors import ConfigError, describe_choices

T = TypeVar("T")

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
# Scalars taken as they are (YAML already typed them): no "3" -> 3, no 1 -> True.
_EXACT = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(tp: Any) -> str:
    if tp in _NAMES:
        return _NAMES[tp]
    if tp is type(None):
        return "null"
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"a list (each item {type_name(args[0])})" if args else "a list"
    if origin is dict or tp is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(tp))}"
    return getattr(tp, "__name__", str(tp))


def check_value(tp: Any, value: Any, path: str) -> Any:
    """Return `value` converted to `tp`, or raise ConfigError naming `path`."""
    if tp is Any or tp is typing.Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return check_value(arg, value, path)
            except ConfigError:
                continue
        raise _mismatch(tp, value, path)
    if tp is type(None):
        if value is None:
            return None
        raise _mismatch(tp, value, path)
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise _mismatch(tp, value, path)
    if tp in _EXACT:
        if _EXACT[tp](value):
            return value
        raise _mismatch(tp, value, path)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer too large for a float
                number = math.inf
            if not math.isfinite(number):
                raise ConfigError(path, f"got {value!r}; expected a finite number")
            return number
        raise _mismatch(tp, value, path)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _mismatch(tp, value, path)
        args = [a for a in get_args(tp) if a is not Ellipsis]
        if origin is tuple and len(args) > 1 and Ellipsis not in get_args(tp):
            if len(value) != len(args):  # tuple[float, float]: exactly two
                raise ConfigError(path, f"got {list(value)!r}; expected {len(args)} values "
                                  f"({type_name(tp)})")
            return tuple(check_value(a, v, join(path, i))
                         for i, (a, v) in enumerate(zip(args, value, strict=True)))
        item_tp = args[0] if args else Any
        items = [check_value(item_tp, v, join(path, i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else list(items)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _mismatch(tp, value, path)
        key_val = get_args(tp)
        val_tp = key_val[1] if len(key_val) == 2 else Any
        return {str(k): check_value(val_tp, v, join(path, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_mapping(tp, value, path)
    return value  # an annotation we do not check (a plugin's own class, say)


def _mismatch(tp: Any, value: Any, path: str) -> ConfigError:
    return ConfigError(path, f"got {value!r}; expected {type_name(tp)}")


def from_mapping(cls: type[T], data: Any, path: str) -> T:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"got {data!r}; expected {type_name(cls)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                join(path, str(key)), f"unknown key; {describe_choices(str(key), fields)}"
            )
        kwargs[key] = check_value(hints[key], value, join(path, key))
    for name, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in kwargs and no_default:
            raise ConfigError(join(path, name), f"missing; expected {type_name(hints[name])}")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        check(path)
    return obj


def require(condition: bool, path: str, value: Any, accepted: str) -> None:
    """Raise ConfigError unless `condition` holds."""
    if not condition:
        raise ConfigError(path, f"got {value!r}; expected {accepted}")
