"""Name -> plugin registries: blocks, shortcuts, stems and heads."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from archforge.errors import ConfigError, DuplicateRegistrationError, describe_choices

if TYPE_CHECKING:
    from torch import nn

T = TypeVar("T", bound=Callable[..., object])


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: T
    origin: str  # "module.Qualname (file:line)": where it was registered, for error messages


def _origin(obj: object) -> str:
    module = getattr(obj, "__module__", "?")
    qualname = getattr(obj, "__qualname__", repr(obj))
    try:
        where = f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"  # type: ignore[arg-type]
    except (TypeError, OSError):
        where = "unknown file"
    return f"{module}.{qualname} ({where})"


class Registry(Generic[T]):
    """A flat mapping from short names (the keys configs use) to plugin factories."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@BLOCKS.register("bottleneck")`."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.kind} name must be an identifier-like string, got {name!r}")

        def decorator(factory: T) -> T:
            origin = _origin(factory)
            first = self._entries.get(name)
            if first is not None and first.factory is not factory:
                raise DuplicateRegistrationError(
                    f"{self.kind} '{name}' is already registered by {first.origin}; "
                    f"cannot register {origin} under the same name"
                )
            self._entries[name] = Entry(name, factory, origin)
            return factory

        return decorator

    def get(self, name: str, key: str = "") -> T:
        """The factory registered as `name`; `key` is the config path used in the error."""
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError(
                key or self.kind,
                f"unknown {self.kind} {name!r}; {describe_choices(str(name), self._entries)}",
            )
        return entry.factory

    def entry(self, name: str) -> Entry[T]:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


PluginFactory = Callable[..., "nn.Module"]

BLOCKS: Registry[PluginFactory] = Registry("block")
SHORTCUTS: Registry[PluginFactory] = Registry("shortcut")
STEMS: Registry[PluginFactory] = Registry("stem")
HEADS: Registry[PluginFactory] = Registry("head")
