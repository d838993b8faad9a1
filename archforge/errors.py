"""Errors a user can cause, each naming the config path it came from."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `name`, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def describe_choices(name: str, candidates: Iterable[str]) -> str:
    """`known: a, b, c (did you mean 'b'?)` for an unknown name."""
    known = sorted(candidates)
    hint = closest(name, known)
    text = f"known: {', '.join(known) if known else '(none)'}"
    return f"{text}; did you mean '{hint}'?" if hint else text


class ConfigError(ValueError):
    """A configuration value is wrong; the message names its path, the value and what is
    accepted."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class OptionError(ValueError):
    """Raised by a plugin about one of its own constructor options.

    The network builder knows where in the config each option was set and turns this into a
    `ConfigError` naming that path, so plugins need not know about config paths at all.
    """

    def __init__(self, option: str, value: Any, accepted: str) -> None:
        self.option = option
        self.value = value
        self.accepted = accepted
        super().__init__(f"{option}={value!r} is not allowed; {accepted}")


class DuplicateRegistrationError(ValueError):
    """A plugin name was registered twice."""


class CheckpointError(ValueError):
    """A weights file is missing, corrupt, or belongs to another architecture."""
