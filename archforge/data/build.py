"""`build_datamodule`: the composed `data` config becomes a ready-to-use data module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from archforge.data.base import ImageDataModule
from archforge.data.registry import DATASETS
from archforge.errors import ConfigError
from archforge.plain import to_plain


def data_kind(mapping: Mapping[str, Any], path: str = "data") -> type[ImageDataModule]:
    """The data module class `data.name` names (third-party kinds register when their
    plugin modules are imported, so an unknown name loads the plugins before failing)."""
    name = mapping.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{path}.name", f"got {name!r}; expected a dataset kind: {', '.join(DATASETS)}"
        )
    if name not in DATASETS:
        from archforge.model.discovery import load_plugins

        load_plugins()
    return DATASETS.get(name, f"{path}.name")


def build_datamodule(data: Mapping[str, Any] | DictConfig, path: str = "data") -> ImageDataModule:
    """Build the data module `data.name` names, validating every key against its schema.

    Errors are `ConfigError`s naming the key (`data.root`, `data.num_classes`, ...). Paths
    are checked here, not at the first batch, so a typo fails before any training starts.
    """
    mapping = to_plain(data, path)
    return data_kind(mapping, path).from_config(mapping, path)
