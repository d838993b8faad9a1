"""archforge: build, train and search convolutional networks from block plugins.

The names below are re-exported lazily (PEP 562): `import archforge` costs almost nothing,
and a plugin module that imports `archforge.BLOCKS` loads the torch-only model core alone,
never Hydra, Lightning or Optuna.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    "build": "archforge.api",
    "resolve": "archforge.api",
    "summary": "archforge.api",
    "HeadConfig": "archforge.model.schema",
    "ModelConfig": "archforge.model.schema",
    "StageConfig": "archforge.model.schema",
    "StemConfig": "archforge.model.schema",
    "load_plugins": "archforge.model.discovery",
    "CheckpointError": "archforge.errors",
    "ConfigError": "archforge.errors",
    "OptionError": "archforge.errors",
    "ConvNormAct": "archforge.model.layers",
    "make_act": "archforge.model.layers",
    "make_norm": "archforge.model.layers",
    "make_shortcut": "archforge.model.layers",
    "Network": "archforge.model.network",
    "BLOCKS": "archforge.model.registry",
    "HEADS": "archforge.model.registry",
    "SHORTCUTS": "archforge.model.registry",
    "STEMS": "archforge.model.registry",
    "Registry": "archforge.model.registry",
    "load_weights": "archforge.checkpoint.weights",
    "PruningCallback": "archforge.cli.pruning",
}

__all__ = [
    "BLOCKS",
    "HEADS",
    "SHORTCUTS",
    "STEMS",
    "CheckpointError",
    "ConfigError",
    "ConvNormAct",
    "HeadConfig",
    "ModelConfig",
    "Network",
    "OptionError",
    "PruningCallback",
    "Registry",
    "StageConfig",
    "StemConfig",
    "build",
    "load_plugins",
    "load_weights",
    "make_act",
    "make_norm",
    "make_shortcut",
    "resolve",
    "summary",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'archforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # static type checkers see the real names
    from archforge.api import build, resolve, summary
    from archforge.checkpoint.weights import load_weights
    from archforge.cli.pruning import PruningCallback
    from archforge.errors import CheckpointError, ConfigError, OptionError
    from archforge.model.discovery import load_plugins
    from archforge.model.layers import ConvNormAct, make_act, make_norm, make_shortcut
    from archforge.model.network import Network
    from archforge.model.registry import BLOCKS, HEADS, SHORTCUTS, STEMS, Registry
    from archforge.model.schema import HeadConfig, ModelConfig, StageConfig, StemConfig
