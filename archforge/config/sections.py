"""The typed sections of a training run besides the model and the data, and `section`, the
one declaration of a top-level section (see `archforge.config.run.Run`).

Dataclasses give the schema and the defaults; YAML (conf/optim, conf/trainer, conf/config.yaml)
gives the values. `archforge.typed.from_mapping` checks types and unknown keys (with the
closest known key) and then each section's `check(path)` checks ranges, so every mistake is
one `ConfigError` naming the full key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archforge.config.trainer_checks import check_accelerator, check_trainer_extra
from archforge.errors import describe_choices
from archforge.typed import require

Parser = Callable[[Mapping[str, Any], str], Any]


@dataclass(frozen=True)
class Section:
    """How a top-level config section is read (declared on a `Run` field by `section`)."""

    # The section's dataclass: parsed into it (unless `parse` is given) and the keys
    # composition lets an override set whether or not a YAML file states them. None: a
    # section whose keys depend on its content (data: `data.name` picks the kind).
    schema: type | None
    parse: Parser | None  # its own parser (mapping, key) -> typed section
    required: bool  # the composed config must have the key
    nullable: bool  # `key: null` is accepted and means "not given"
    raw: bool  # kept as a plain mapping: another package parses it (search)


def section(
    schema: type | None = None,
    parse: Parser | None = None,
    *,
    required: bool = True,
    nullable: bool = False,
    raw: bool = False,
) -> dict[str, Section]:
    """The metadata that declares a `Run` field a top-level config section
    (`field(metadata=section(...))`): the accepted top-level keys, `parse_run`'s step for it
    and composition's schema all come from this one line."""
    return {"section": Section(schema, parse, required, nullable, raw)}


def sections(cls: type) -> dict[str, Section]:
    """The sections a dataclass declares with `section(...)`, by key, in order."""
    return {f.name: f.metadata["section"] for f in dataclasses.fields(cls)
            if "section" in f.metadata}


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "step", "cosine")
# What training logs: the keys a checkpoint may monitor and a search may optimise.
METRICS = ("val/acc", "val/loss", "val/acc_top5", "train/loss", "train/acc")
# val/acc_top5 is logged only above this many classes: with 5 or fewer it is always 100%.
TOP5_MIN_CLASSES = 5
LOGGERS = ("csv", "tensorboard", "mlflow")
MAX_RATE = 1e4  # learning rate and weight decay


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule (`optim=` presets in conf/optim/)."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decay_norm_and_bias: bool = True
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])
    gamma: float = 0.1
    min_lr_factor: float = 0.0

    def check(self, path: str = "optim") -> None:
        self.name = self.name.lower()
        require(self.name in OPTIMIZERS, f"{path}.name", self.name,
                f"an optimizer name; {describe_choices(self.name, OPTIMIZERS)}")
        require(self.schedule in SCHEDULES, f"{path}.schedule", self.schedule,
                f"a schedule; {describe_choices(self.schedule, SCHEDULES)}")
        # beyond MAX_RATE a step overflows float32 weights at once: a typo, not a recipe
        require(0 < self.lr <= MAX_RATE, f"{path}.lr", self.lr, f"a number in (0, {MAX_RATE:g}]")
        require(0 <= self.weight_decay <= MAX_RATE, f"{path}.weight_decay", self.weight_decay,
                f"a number in [0, {MAX_RATE:g}]")
        require(0 <= self.momentum < 1, f"{path}.momentum", self.momentum, "a number in [0, 1)")
        require(all(0 <= b < 1 for b in self.betas), f"{path}.betas", list(self.betas),
                "two numbers in [0, 1)")
        require(0 < self.eps <= 1, f"{path}.eps", self.eps, "a number in (0, 1]")
        require(self.warmup_epochs >= 0, f"{path}.warmup_epochs", self.warmup_epochs, ">= 0")
        require(0 < self.gamma <= 1, f"{path}.gamma", self.gamma, "a number in (0, 1]")
        require(0 <= self.min_lr_factor <= 1, f"{path}.min_lr_factor", self.min_lr_factor,
                "a number in [0, 1]")
        require(all(0 < m < 1 for m in self.milestones), f"{path}.milestones", self.milestones,
                "fractions of training in (0, 1)")
        self.milestones = sorted(self.milestones)


@dataclass
class CheckpointConfig:
    """Which validation metric picks `best.ckpt` (written only when it improves), and how
    often `last.ckpt` is written (archforge/training/last_checkpoint.py)."""

    monitor: str = "val/acc"
    mode: str = "max"
    # last.ckpt every this many epochs and always in the final one; 0: the final one only.
    last_every_n_epochs: int = 5

    def check(self, path: str = "checkpoint") -> None:
        require(self.last_every_n_epochs >= 0, f"{path}.last_every_n_epochs",
                self.last_every_n_epochs, "an integer >= 0 (0: only in the final epoch)")
        require(self.monitor in METRICS, f"{path}.monitor", self.monitor,
                f"a logged metric; {describe_choices(self.monitor, METRICS)}")
        require(self.mode in ("max", "min"), f"{path}.mode", self.mode, "max or min")


@dataclass
class FinetuneConfig:
    """Two-phase transfer learning in one run: freeze, train the head, unfreeze the end."""

    enabled: bool = False
    freeze: str | list[int | str] = "all"  # stages frozen in phase 1
    head_epochs: int = 1  # phase 1: only the head trains
    unfreeze: list[int | str] = field(default_factory=lambda: [-1])  # phase 2 unfreezes these
    lr_factor: float = 0.1  # phase 2 runs at this fraction of the scheduled learning rate
    new_head: bool = True  # drop checkpoint head weights whose shape does not fit

    def check(self, path: str = "finetune") -> None:
        require(self.head_epochs >= 0, f"{path}.head_epochs", self.head_epochs, "an integer >= 0")
        require(0 < self.lr_factor <= 1, f"{path}.lr_factor", self.lr_factor,
                "a number in (0, 1]")
        if isinstance(self.freeze, str):
            require(self.freeze == "all", f"{path}.freeze", self.freeze,
                    "'all' or a list of stage indices / names")


@dataclass
class TrainerConfig:
    """Lightning Trainer arguments (conf/trainer/). Any other `lightning.Trainer` keyword may
    be added (`+trainer.gradient_clip_val=1.0`); it lands in `extra` and is checked against
    the Trainer's signature."""

    accelerator: str = "cpu"
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int = "32-true"
    max_epochs: int = 12
    deterministic: bool | str = False
    log_every_n_steps: int = 50
    check_val_every_n_epoch: int = 1
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    sync_batchnorm: bool = False
    # archforge's own key, not a Trainer argument: inputs and weights in channels_last
    # memory format; null lets archforge choose per machine kind.
    channels_last: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self, path: str = "trainer") -> None:
        require(self.max_epochs >= 1, f"{path}.max_epochs", self.max_epochs, "an integer >= 1")
        require(self.num_nodes >= 1, f"{path}.num_nodes", self.num_nodes, "an integer >= 1")
        require(self.log_every_n_steps >= 1, f"{path}.log_every_n_steps",
                self.log_every_n_steps, "an integer >= 1")
        require(self.check_val_every_n_epoch >= 1, f"{path}.check_val_every_n_epoch",
                self.check_val_every_n_epoch, "an integer >= 1")
        for key in ("limit_train_batches", "limit_val_batches"):
            value = getattr(self, key)
            ok = value is None or (value > 0 if isinstance(value, int) else 0 < value <= 1)
            require(ok, f"{path}.{key}", value,
                    "null, a number of batches >= 1, or a fraction in (0, 1]")
        if isinstance(self.devices, int):
            require(self.devices >= 1 or self.devices == -1, f"{path}.devices", self.devices,
                    "a count >= 1, -1 for all, 'auto' or a list of device indices")
        if isinstance(self.devices, list):
            require(bool(self.devices) and all(d >= 0 for d in self.devices), f"{path}.devices",
                    self.devices, "a non-empty list of device indices >= 0")
        require(not isinstance(self.deterministic, str) or self.deterministic == "warn",
                f"{path}.deterministic", self.deterministic, "true, false or 'warn'")
        check_accelerator(self.accelerator, f"{path}.accelerator")
        check_trainer_extra(self.extra, path)

    def kwargs(self) -> dict[str, Any]:
        """The `lightning.Trainer` keyword arguments (archforge's own keys left out)."""
        own = {"channels_last", "extra"}
        out = {k: v for k, v in vars(self).items() if k not in own}
        out.update(self.extra)
        return out

    def processes(self) -> int:
        count = len(self.devices) if isinstance(self.devices, list) else self.devices
        per_node = count if isinstance(count, int) and count > 0 else 1
        return per_node * self.num_nodes
