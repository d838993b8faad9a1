"""One training run, parsed and validated once at the boundary into typed objects.

`parse_run(cfg)` takes the composed config (a DictConfig from Hydra, or a plain mapping such
as a search winner's `best_run.yaml`) and returns a `Run`: every section typed, the model
checked on the meta device (no weights allocated), model and data agreeing, and the Trainer
arguments checked against Lightning's signature. Whatever a YAML file or an override gets
wrong is one `ConfigError` naming the full key; the rest of the code receives a `Run` and
never re-validates.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf

from archforge.config.extras import MLFLOW_EXTRA, installed
from archforge.config.follow_data import follow_data
from archforge.config.search_settings import SearchSettings
from archforge.config.sections import (
    LOGGERS,
    TOP5_MIN_CLASSES,
    CheckpointConfig,
    FinetuneConfig,
    OptimConfig,
    Section,
    TrainerConfig,
    section,
    sections,
)
from archforge.errors import ConfigError, describe_choices
from archforge.model.check import check
from archforge.model.discovery import load_plugins
from archforge.model.parse import parse_model
from archforge.model.schema import ModelConfig
from archforge.model.summary import ModelSummary
from archforge.model.weights_file import check_weights_file
from archforge.plain import to_plain
from archforge.typed import check_value, from_mapping, require

if TYPE_CHECKING:  # the data package (Lightning) is imported when a run is parsed
    from archforge.data.base import DataConfig

# Trainer arguments archforge sets itself: a config value would be silently replaced.
OWNED_TRAINER_ARGS = {
    "callbacks": "pass callbacks to archforge.training.fit.train(callbacks=...)",
    "logger": "use the top-level `logger` key (csv, tensorboard, mlflow)",
    "default_root_dir": "use hydra.run.dir (or run_dir)",
    "enable_checkpointing": "checkpoints are always written (checkpoint.monitor picks best)",
    "plugins": "archforge installs its own checkpoint IO",
    "enable_progress_bar": "use the top-level `progress` key",
    "enable_model_summary": "use the top-level `progress` key",
}


@dataclass
class RunKeys:
    """The top-level keys of conf/config.yaml that are not sections (the sections are the
    `section(...)` fields of `Run`)."""

    seed: int = 0
    run_dir: str | None = None
    overwrite: bool = False  # allow a run directory that holds another run's checkpoints
    logger: str | list[str] | None = "csv"
    label_smoothing: float = 0.0
    channels_last: bool | None = None  # null: trainer.channels_last, then archforge's choice
    compile: bool = False
    progress: bool = True
    test: bool = False  # after fitting, evaluate best.ckpt on the data's held-out test split
    threads: int | None = None  # torch threads of `archforge train`; null: training/threads.py

    def check(self, path: str = "") -> None:
        require(0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)")
        require(self.threads is None or self.threads >= 1, "threads", self.threads,
                "an integer >= 1 or null")
        require(0 <= self.label_smoothing < 1, "label_smoothing", self.label_smoothing,
                "a number in [0, 1)")
        for kind in self.loggers:
            require(kind in LOGGERS, "logger", kind,
                    f"csv, tensorboard, mlflow, a list of them or null; "
                    f"{describe_choices(kind, LOGGERS)}")
        if "mlflow" in self.loggers and not installed("mlflow"):
            raise ConfigError("logger", f"logger=mlflow needs MLflow, an optional extra: "
                              f"{MLFLOW_EXTRA}")

    @property
    def loggers(self) -> list[str]:
        if self.logger is None:
            return []
        return [self.logger] if isinstance(self.logger, str) else list(self.logger)


def parse_data(mapping: Mapping[str, Any], path: str = "data") -> DataConfig:
    """The data section as its kind's config dataclass (`data.name` picks the kind)."""
    from archforge.data.build import data_kind

    return from_mapping(data_kind(mapping, path).config_class, mapping, path)


def parse_trainer(mapping: Mapping[str, Any], path: str = "trainer") -> TrainerConfig:
    """Known keys are typed; any other key must be a `lightning.Trainer` argument."""
    known = {f.name for f in fields(TrainerConfig)} - {"extra"}
    extra = {k: v for k, v in mapping.items() if k not in known}
    for key in extra:
        if key in OWNED_TRAINER_ARGS:
            raise ConfigError(f"{path}.{key}", f"is set by archforge; {OWNED_TRAINER_ARGS[key]}")
    hints = _trainer_arguments()
    for key, value in extra.items():
        if key not in hints:
            raise ConfigError(f"{path}.{key}", "not a lightning.Trainer argument; "
                              f"{describe_choices(key, sorted(set(hints) | known))}")
        # Lightning's own annotation: a wrong type fails here, not at the first step.
        extra[key] = check_value(hints[key], value, f"{path}.{key}")
    known_values = {k: v for k, v in mapping.items() if k in known}
    return from_mapping(TrainerConfig, {**known_values, "extra": extra}, path)


@dataclass
class Run:
    """A validated run: what `archforge.training.fit.train` receives.

    Each `section(...)` field is one top-level section of the config, declared once: the
    top-level keys parse_run accepts, how it parses the section, and which keys composition
    lets an override add (`archforge.config.compose.schema_fields`) all come from it. A new
    section is a dataclass (its keys and defaults), a field here and its values in
    conf/config.yaml.
    """

    # data first: the model's input_size and classes follow it
    data: DataConfig = field(metadata=section(None, parse_data))  # the kind's own subclass
    model: ModelConfig = field(metadata=section(ModelConfig, parse_model))
    optim: OptimConfig = field(metadata=section(OptimConfig))
    trainer: TrainerConfig = field(metadata=section(TrainerConfig, parse_trainer))
    finetune: FinetuneConfig = field(metadata=section(FinetuneConfig, required=False))
    checkpoint: CheckpointConfig = field(metadata=section(CheckpointConfig, required=False))
    # the search group, kept as written: archforge.search reads it (parse_settings)
    search: dict[str, Any] | None = field(
        metadata=section(SearchSettings, required=False, nullable=True, raw=True))
    summary: ModelSummary  # the meta-device trace: params, MACs, per-stage shapes
    keys: RunKeys
    resolved: dict[str, Any]  # the whole config as plain data: config.yaml, checkpoints
    # What was read from the data to fill keys the config left null (an image folder's
    # classes, channels, size): printed once before training.
    notes: list[str] = field(default_factory=list)

    @property
    def model_mapping(self) -> dict[str, Any]:
        return dict(self.resolved["model"])


SECTIONS: dict[str, Section] = sections(Run)
# Top-level keys of a Hydra primary config that are Hydra's, not the run's: a search's
# `best_run.yaml` read as plain data (`parse_run(OmegaConf.load(path))`) holds both.
HYDRA_KEYS = ("defaults", "hydra")


def parse_run(cfg: Any) -> Run:
    """Validate a composed training config (DictConfig or mapping) into a `Run`."""
    parsed, keys, resolved, notes = _parse(cfg)
    model: ModelConfig = parsed["model"]
    report = check(model)
    _check_together(parsed, model)
    return Run(**parsed, summary=report, keys=keys, resolved=resolved, notes=notes)


def parse_model_untraced(cfg: Any) -> ModelConfig:
    """The model of a composed config, validated like `parse_run` but not traced on the meta
    device: for a caller that builds the real network and runs it at once (the proxy
    pre-screen), where the trace would only repeat that run's own shape checks."""
    parsed = _parse(cfg)[0]
    _check_together(parsed, parsed["model"])
    return cast(ModelConfig, parsed["model"])


def _parse(cfg: Any) -> tuple[dict[str, Any], RunKeys, dict[str, Any], list[str]]:
    resolved, notes = follow_data(_plain(cfg))
    known = [f.name for f in fields(RunKeys)] + list(SECTIONS)
    for key in resolved:
        if key not in known:
            raise ConfigError(key, f"unknown key; {describe_choices(key, known)}")
    keys = from_mapping(RunKeys, {k: v for k, v in resolved.items() if k not in SECTIONS}, "")
    parsed = {key: _section(key, info, resolved) for key, info in SECTIONS.items()}
    load_plugins()
    return parsed, keys, resolved, notes


def _check_together(parsed: dict[str, Any], model: ModelConfig) -> None:
    """The checks that read several sections at once."""
    check_compatible(model, parsed["data"])
    check_weights_file(model.weights)
    check_finetune(parsed["finetune"], parsed["trainer"], model)
    optim, trainer = parsed["optim"], parsed["trainer"]
    require(optim.warmup_epochs <= trainer.max_epochs, "optim.warmup_epochs",
            optim.warmup_epochs, f"0..trainer.max_epochs ({trainer.max_epochs}) epochs")
    if parsed["checkpoint"].monitor == "val/acc_top5" and model.num_classes <= TOP5_MIN_CLASSES:
        raise ConfigError("checkpoint.monitor", f"val/acc_top5 is measured only with more than "
                          f"{TOP5_MIN_CLASSES} classes; this data has {model.num_classes}: "
                          "monitor val/acc")


def _section(key: str, info: Section, resolved: Mapping[str, Any]) -> Any:
    """One section of the config, parsed as its `Run` field declares."""
    if key not in resolved:
        if info.required:
            raise ConfigError(key, "missing; expected a mapping")
        if info.nullable:
            return None
        value: Any = {}
    else:
        value = check_value(dict[str, Any] | None if info.nullable else dict[str, Any],
                            resolved[key], key)
    if value is None or info.raw:
        return value
    if info.parse is not None:
        return info.parse(value, key)
    assert info.schema is not None, f"section {key} declares neither a schema nor a parser"
    return from_mapping(info.schema, value, key)


def _plain(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        if any(k in cfg for k in HYDRA_KEYS):  # a run file loaded as it is (run_file.py)
            cfg = OmegaConf.masked_copy(cfg, [str(k) for k in cfg if k not in HYDRA_KEYS])
        try:
            return to_plain(cfg, "config")
        except RecursionError as exc:
            raise ConfigError("config", "nested too deeply to be a configuration") from exc
    if not isinstance(cfg, Mapping):
        raise ConfigError("config", f"got {type(cfg).__name__}; expected a mapping")
    return {k: v for k, v in cfg.items() if k not in HYDRA_KEYS}


def _size(value: int | list[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[-1]))


def check_compatible(model: ModelConfig, data: DataConfig) -> None:
    """The model must take the data's images and predict its classes."""
    if model.num_classes != data.num_classes:
        raise ConfigError(
            "model.num_classes",
            f"got {model.num_classes} but data '{data.name}' has {data.num_classes} "
            "classes; remove the key from the model (it follows data.num_classes) or pick "
            "other data",
        )
    if model.in_channels != data.channels:
        raise ConfigError(
            "model.in_channels",
            f"got {model.in_channels} but data '{data.name}' has {data.channels} channels; "
            "remove the key from the model (it follows data.channels)",
        )
    if model.spatial_size != _size(data.image_size):
        raise ConfigError(
            "model.input_size",
            f"got {model.input_size} but data '{data.name}' yields images of "
            f"{data.image_size}; remove the key from the model (it follows data.image_size) "
            "or set data.image_size to resize",
        )


def _trainer_arguments() -> dict[str, Any]:
    """Every `lightning.Trainer` keyword with its type annotation (Any where unreadable)."""
    import lightning as L

    init = L.Trainer.__init__
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation this Python cannot evaluate: check names only
        hints = {}
    names = set(inspect.signature(init).parameters) - {"self"}
    return {name: hints.get(name, Any) for name in names}


def check_finetune(ft: FinetuneConfig, trainer: TrainerConfig, model: ModelConfig) -> None:
    if not ft.enabled:
        return
    from archforge.model.builder import stage_names
    from archforge.model.stages import select_stages

    names = stage_names(model)  # stages that do not exist: refused before any training
    select_stages(names, ft.freeze, "finetune.freeze")
    select_stages(names, ft.unfreeze, "finetune.unfreeze")
    require(ft.head_epochs <= trainer.max_epochs, "finetune.head_epochs", ft.head_epochs,
            f"0..trainer.max_epochs ({trainer.max_epochs})")
    if 0 < ft.head_epochs < trainer.max_epochs and trainer.processes() > 1:
        # DDP registers only parameters that require grad when it wraps the model, so a stage
        # unfrozen in phase 2 would never be synchronised and the ranks would drift apart.
        raise ConfigError(
            "finetune.enabled",
            "switching phases mid-run needs one process; with several devices run two "
            "commands: head_epochs=max_epochs, then head_epochs=0 from its checkpoint",
        )
    if not model.weights:
        raise ConfigError("model.weights", "fine-tuning needs pretrained weights to start from")
