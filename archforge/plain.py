"""`to_plain`: a config node as plain data, with no Hydra anywhere near it.

The data package, the run schema and the search settings all receive either a DictConfig
(from Hydra's composition) or a plain mapping (a saved `config.yaml`, a test); this module
turns both into a dict with OmegaConf alone, so importing them loads no Hydra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from archforge.errors import ConfigError


def to_plain(node: DictConfig | Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """`node` as a plain dict with interpolations resolved; a broken `${...}` or a value that
    is not a mapping is a ConfigError naming `key`."""
    if isinstance(node, DictConfig):
        try:
            data = OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(key, str(exc).splitlines()[0]) from exc
    else:
        data = node
    if not isinstance(data, Mapping):
        raise ConfigError(key, f"got {data!r}; expected a mapping")
    return {str(k): v for k, v in data.items()}
