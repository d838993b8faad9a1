"""Plugin options: what a plugin's constructor accepts, read from its signature.

Options are plain keyword arguments with type hints, so the signature is the schema: it
drives validation of YAML values, `archforge blocks`, and the search-space checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from archforge.errors import ConfigError, describe_choices
from archforge.typed import check_value, type_name

# Arguments the builder supplies itself, per plugin kind; a config may not set them as options.
BLOCK_ARGS = ("in_channels", "out_channels", "stride")
STEM_ARGS = ("in_channels", "out_channels")
HEAD_ARGS = ("in_channels", "num_classes")


@dataclass(frozen=True)
class OptionSpec:
    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def describe(self) -> str:
        tp = type_name(self.annotation) if self.annotation is not Any else "any"
        return f"{self.name}: {tp}" + ("" if self.required else f" = {self.default!r}")


def _init_of(factory: Callable[..., Any]) -> Callable[..., Any]:
    return factory.__init__ if inspect.isclass(factory) else factory


def parameter(factory: Callable[..., Any], name: str) -> inspect.Parameter | None:
    """The constructor parameter `name` of a plugin class or factory function, if any."""
    return inspect.signature(_init_of(factory)).parameters.get(name)


def option_specs(
    factory: Callable[..., Any], builder_args: tuple[str, ...] = BLOCK_ARGS
) -> dict[str, OptionSpec]:
    """The keyword options of a plugin, excluding the arguments the builder passes."""
    fn = _init_of(factory)
    try:
        hints = get_type_hints(fn)
    except Exception:  # unresolvable annotations in a third-party plugin: do not type-check
        hints = {}
    specs: dict[str, OptionSpec] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in builder_args:
            continue
        specs[p.name] = OptionSpec(p.name, hints.get(p.name, Any), p.default)
    return specs


def accepts_var_keywords(factory: Callable[..., Any]) -> bool:
    params = inspect.signature(_init_of(factory)).parameters.values()
    return any(p.kind is p.VAR_KEYWORD for p in params)


def check_options(
    factory: Callable[..., Any],
    options: Mapping[str, Any],
    paths: Mapping[str, str],
    what: str,
    builder_args: tuple[str, ...] = BLOCK_ARGS,
) -> dict[str, Any]:
    """Validate option names and types; `paths` maps each option to the config path it came
    from, so errors name the place the user must edit."""
    specs = option_specs(factory, builder_args)
    open_ended = accepts_var_keywords(factory)
    checked: dict[str, Any] = {}
    for name, value in options.items():
        path = paths.get(name, name)
        spec = specs.get(name)
        if spec is None:
            if name in builder_args:
                raise ConfigError(path, f"is set by the builder, not as an option of {what}")
            if open_ended:
                checked[name] = value
                continue
            raise ConfigError(
                path, f"unknown option of {what}; {describe_choices(name, specs) or '(none)'}"
            )
        checked[name] = check_value(spec.annotation, value, path)
    return checked
