"""archforge: build, train and search convolutional networks from block plugins."""

from archforge.api import build, resolve, summary
from archforge.config.schema import HeadConfig, ModelConfig, StageConfig, StemConfig
from archforge.discovery import load_plugins
from archforge.errors import CheckpointError, ConfigError, OptionError
from archforge.layers import ConvNormAct, make_act, make_norm, make_shortcut
from archforge.network import Network
from archforge.registry import BLOCKS, HEADS, SHORTCUTS, STEMS, Registry
from archforge.weights import load_weights

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
__version__ = "0.1.0"
