"""Validate a composed training config before anything heavy is allocated.

Order matters for the user: the model is checked on the meta device (no weights), then the
data section's keys, then that model and data agree, then the trainer arguments. Each error
is one `ConfigError` naming the key to change.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import lightning as L
from omegaconf import DictConfig

from archforge.api import resolve, summary
from archforge.config.compose import to_plain
from archforge.errors import ConfigError
from archforge.model.schema import ModelConfig
from archforge.training.optim import OptimConfig, parse_optim

DATA_KEYS = ("name", "num_classes", "channels", "image_size", "batch_size", "num_workers", "seed")
# Keys of the trainer group that archforge reads itself instead of passing to `L.Trainer`.
OWN_TRAINER_KEYS = ("channels_last",)


def section(cfg: DictConfig, name: str) -> dict[str, Any]:
    if name not in cfg or cfg[name] is None:
        raise ConfigError(name, "missing section; compose the training config (conf/config.yaml)")
    node = cfg[name]
    if not isinstance(node, DictConfig):
        raise ConfigError(name, f"got {node!r}; expected a mapping")
    return to_plain(node, name)


def check_model(cfg: DictConfig) -> tuple[ModelConfig, dict[str, Any]]:
    """Parse the model and trace it on the meta device (wrong input sizes fail here)."""
    mapping = section(cfg, "model")
    model = resolve(mapping)
    summary(model)
    return model, mapping


def check_data(data: Mapping[str, Any]) -> None:
    for key in DATA_KEYS:
        if key not in data:
            needed = ", ".join(DATA_KEYS)
            raise ConfigError(f"data.{key}", f"missing; every data config sets {needed}")
    for key in ("num_classes", "channels", "batch_size"):
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"data.{key}", f"got {value!r}; expected an integer >= 1")
    if not isinstance(data["num_workers"], int) or data["num_workers"] < 0:
        raise ConfigError("data.num_workers", f"got {data['num_workers']!r}; expected >= 0")


def _size(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[-1]))


def check_compatible(model: ModelConfig, data: Mapping[str, Any]) -> None:
    """The model must take the data's images and predict its classes."""
    if model.num_classes != data["num_classes"]:
        raise ConfigError(
            "model.num_classes",
            f"got {model.num_classes} but data '{data['name']}' has {data['num_classes']} "
            "classes; remove the override (it follows data.num_classes) or pick other data",
        )
    if model.in_channels != data["channels"]:
        raise ConfigError(
            "model.in_channels",
            f"got {model.in_channels} but data '{data['name']}' has {data['channels']} channels",
        )
    if model.spatial_size != _size(data["image_size"]):
        raise ConfigError(
            "model.input_size",
            f"got {model.input_size} but data '{data['name']}' yields images of "
            f"{data['image_size']}; set data.image_size to resize, or keep the default",
        )


def trainer_kwargs(trainer: Mapping[str, Any]) -> dict[str, Any]:
    """Trainer arguments minus archforge's own keys; unknown names are a ConfigError."""
    allowed = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    kwargs = {k: v for k, v in trainer.items() if k not in OWN_TRAINER_KEYS}
    for key in kwargs:
        if key not in allowed:
            raise ConfigError(f"trainer.{key}", "not a lightning.Trainer argument")
    epochs = kwargs.get("max_epochs")
    if not isinstance(epochs, int) or epochs < 1:
        raise ConfigError("trainer.max_epochs", f"got {epochs!r}; expected an integer >= 1")
    return kwargs


def check_finetune(ft: Mapping[str, Any], epochs: int) -> None:
    head = ft.get("head_epochs", 0)
    if not isinstance(head, int) or not 0 <= head <= epochs:
        raise ConfigError(
            "finetune.head_epochs", f"got {head!r}; expected 0..trainer.max_epochs ({epochs})"
        )
    factor = ft.get("lr_factor", 1.0)
    if not isinstance(factor, int | float) or not 0 < factor <= 1:
        raise ConfigError("finetune.lr_factor", f"got {factor!r}; expected a number in (0, 1]")


def _processes(kwargs: Mapping[str, Any]) -> int:
    devices = kwargs.get("devices", 1)
    count = len(devices) if isinstance(devices, list | tuple) else devices
    per_node = count if isinstance(count, int) and count > 0 else 1
    return per_node * int(kwargs.get("num_nodes", 1) or 1)


def check_all(cfg: DictConfig) -> tuple[ModelConfig, dict[str, Any], OptimConfig, dict[str, Any]]:
    """Everything `train()` needs, validated: (model, model mapping, optim, trainer kwargs)."""
    model, mapping = check_model(cfg)
    data = section(cfg, "data")
    check_data(data)
    check_compatible(model, data)
    optim = parse_optim(section(cfg, "optim"))
    kwargs = trainer_kwargs(section(cfg, "trainer"))
    ft = to_plain(cfg.get("finetune") or {}, "finetune")
    if ft.get("enabled"):
        check_finetune(ft, kwargs["max_epochs"])
        if 0 < ft.get("head_epochs", 0) < kwargs["max_epochs"] and _processes(kwargs) > 1:
            # DDP registers only parameters that require grad when it wraps the model, so a
            # stage unfrozen in phase 2 would never be synchronised and the ranks would drift.
            raise ConfigError(
                "finetune.enabled",
                "switching phases mid-run needs one process; with several devices run two "
                "commands: head_epochs=max_epochs, then head_epochs=0 from its checkpoint",
            )
        if not model.weights:
            raise ConfigError("model.weights", "fine-tuning needs pretrained weights to start from")
    return model, mapping, optim, kwargs
