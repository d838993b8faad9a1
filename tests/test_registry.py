"""Registries: registration, duplicates, unknown names."""

from __future__ import annotations

import pytest

import archforge
from archforge import ConfigError, Registry
from archforge.errors import DuplicateRegistrationError


def test_register_and_get() -> None:
    reg: Registry = Registry("widget")

    @reg.register("plain")
    def plain() -> str:
        return "ok"

    assert reg.get("plain") is plain and "plain" in reg and reg.names() == ["plain"]
    assert reg.entry("plain").origin.startswith("test_registry.")


def test_duplicate_names_where_the_first_came_from() -> None:
    reg: Registry = Registry("widget")

    @reg.register("thing")
    def first() -> None: ...

    with pytest.raises(DuplicateRegistrationError) as info:

        @reg.register("thing")
        def second() -> None: ...

    message = str(info.value)
    assert "already registered by test_registry.test_duplicate_names_where_the_first" in message
    assert "test_registry.py:" in message  # the file and line of the first registration


def test_registering_the_same_object_twice_is_harmless() -> None:
    reg: Registry = Registry("widget")

    def f() -> None: ...

    reg.register("f")(f)
    reg.register("f")(f)  # a module imported twice under two names must not break
    assert reg.names() == ["f"]


def test_unknown_name_lists_known_and_closest() -> None:
    with pytest.raises(ConfigError) as info:
        archforge.BLOCKS.get("botleneck", "model.block")
    message = str(info.value)
    assert message.startswith("model.block: unknown block 'botleneck'; known: ")
    assert "basic" in message and "did you mean 'bottleneck'?" in message


def test_names_must_be_identifiers() -> None:
    with pytest.raises(ValueError):
        Registry("widget").register("not a name")


def test_builtin_plugins_arrive_through_entry_points() -> None:
    loaded = archforge.load_plugins()
    assert loaded["archforge_plugins.resnet"] == "archforge"
    assert {"basic", "bottleneck", "inception", "xception", "mobilenet", "vgg"} <= set(
        archforge.BLOCKS.names()
    )
    assert set(archforge.SHORTCUTS.names()) == {"identity", "projection", "zero_pad"}
