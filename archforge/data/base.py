"""The shared shape of every archforge data module: config schema, loaders, preprocessing.

A dataset kind subclasses `ImageDataModule`, names its config dataclass in `config_class`,
and fills `train_set` / `val_set` in `build_datasets`. Samples are raw pixels (uint8, or
float in [0, 1]); the loaders scale, augment (train only) and normalise whole batches, so
every kind gets the same batch format: float32 NCHW images, int64 labels.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from archforge.data.data_warning import DataWarning as DataWarning  # re-exported
from archforge.data.imaging import image_to_tensor
from archforge.data.in_memory import InMemoryLoader
from archforge.data.placement import Placement, free_device_bytes, plan_placement
from archforge.data.resident import place, rank_seed, resident_indices
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import (
    AugmentConfig,
    BatchTransform,
    Normalize,
    build_augment,
    to_unit_float,
)
from archforge.errors import ConfigError
from archforge.model.limits import limits
from archforge.plain import to_plain
from archforge.typed import from_mapping, require

HPARAMS_KEY = "archforge_data"  # the data module's one entry in Lightning's hparams

log = logging.getLogger(__name__)


# data key -> the model limit (archforge/model/limits.py) that bounds it
_LIMIT_NAMES = {"image_size": "INPUT_SIZE", "channels": "IN_CHANNELS",
                "num_classes": "NUM_CLASSES"}

@dataclass
class DataConfig:
    """Keys every `conf/data/*.yaml` has. `mean`/`std` null means the kind's own default."""

    name: str = ""
    num_classes: int = 10
    channels: int = 3
    image_size: int = 32  # square side fed to the model
    batch_size: int = 64
    num_workers: int = 0
    seed: int = 0  # split and shuffling order; augmentation follows torch's global seed
    mean: tuple[float, ...] | None = None  # per channel, on pixels scaled to [0, 1]
    std: tuple[float, ...] | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    pin_memory: bool = False  # worth turning on when training on a GPU
    drop_last: bool = False  # drop a short last train batch (BatchNorm fails on a batch of 1)
    # auto: hold the decoded set in memory as one tensor when it is at most in_memory_max_mb
    # (always, for digits, synthetic and CIFAR-10) and batch it without a DataLoader;
    # false: the DataLoader path (num_workers processes, decoding image files per epoch).
    in_memory: Literal["auto"] | bool = "auto"
    in_memory_max_mb: int = 1024
    # An in-memory set held on the training device once, batches gathered there
    # (archforge/data/placement.py). auto: on an accelerator when one rank's shard fits in
    # device_memory_share of its free memory, else the host gather; true: on the device
    # (the CPU included), an error when it does not fit; false: always the host gather.
    device_resident: Literal["auto"] | bool = "auto"
    device_memory_share: float = 0.5

    def check(self, path: str = "data") -> None:
        """Range checks the types alone cannot express; errors name `path.<key>`."""
        require(self.num_classes >= 2, f"{path}.num_classes", self.num_classes, "at least 2")
        require(self.channels >= 1, f"{path}.channels", self.channels, "at least 1")
        require(self.image_size >= 1, f"{path}.image_size", self.image_size, "at least 1")
        require(self.batch_size >= 1, f"{path}.batch_size", self.batch_size, "at least 1")
        require(self.num_workers >= 0, f"{path}.num_workers", self.num_workers, ">= 0")
        require(0 <= self.seed < 2**32, f"{path}.seed", self.seed, "an integer in [0, 2**32)")
        # the model follows these keys: a value it cannot take is named here, as typed
        bound = limits()
        for key, most in (("image_size", bound.max_input_size),
                          ("channels", bound.max_in_channels),
                          ("num_classes", bound.max_num_classes)):
            value = getattr(self, key)
            require(value <= most, f"{path}.{key}", value,
                    f"at most {most:,} (ARCHFORGE_MAX_{_LIMIT_NAMES[key]} raises it)")
        require(self.augment.crop_padding <= self.image_size, f"{path}.augment.crop_padding",
                self.augment.crop_padding, f"0..data.image_size ({self.image_size}) pixels")
        require(
            self.in_memory_max_mb >= 0, f"{path}.in_memory_max_mb", self.in_memory_max_mb, ">= 0"
        )
        require(0 < self.device_memory_share <= 1, f"{path}.device_memory_share",
                self.device_memory_share, "a fraction in (0, 1]")
        for key in ("mean", "std"):
            value = getattr(self, key)
            require(
                value is None or len(value) == self.channels,
                f"{path}.{key}",
                value,
                f"{self.channels} values (one per channel, data.channels={self.channels}) "
                "or null for the dataset's default",
            )
        if self.std is not None:
            require(all(s > 0 for s in self.std), f"{path}.std", self.std, "positive values")
        self.augment.check(f"{path}.augment")


class ImageDataModule(L.LightningDataModule):
    """A LightningDataModule for image classification with archforge's config conventions.

    Data sets held as tensors (`TensorImageDataset`) are served by `InMemoryLoader`: one
    gather per batch, augmentation on the training device, each DDP rank its own shard.
    Anything else (large image folders, `data.in_memory=false`) goes through a DataLoader.

    Attributes the model and CLI read: `num_classes`, `channels`, `image_size`,
    `class_names`, `mean`, `std`; `preprocess(image)` prepares one Pillow image for
    prediction; `setup()` then `train_dataloader()` / `val_dataloader()` give batches of
    (float32 NCHW images, int64 labels).
    """

    config_class: ClassVar[type[DataConfig]] = DataConfig
    default_mean: ClassVar[float] = 0.5  # per channel, when the config's mean is null
    default_std: ClassVar[float] = 0.25
    # Whether the kind keeps a test split apart from train/val (`build_test_set`): read
    # only by `archforge evaluate split=test` and `archforge train test=true`. A kind whose
    # config decides (an image folder's `data.test_dir`) overrides `test_split_missing`.
    has_test_split: ClassVar[bool] = False

    def __init__(self, config: DataConfig, class_names: list[str] | None = None) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.num_classes: int = config.num_classes
        self.channels: int = config.channels
        self.image_size: int = config.image_size
        self.class_names: list[str] = class_names or [str(i) for i in range(config.num_classes)]
        default_mean, default_std = self.default_stats(self.channels)
        self.mean: tuple[float, ...] = tuple(config.mean or default_mean)
        self.std: tuple[float, ...] = tuple(config.std or default_std)
        self.normalize = Normalize(self.mean, self.std)
        self.augment = build_augment(config.augment)
        self.train_set: Dataset[Any] | None = None
        self.val_set: Dataset[Any] | None = None
        self.test_set: Dataset[Any] | None = None
        # Per (stage, device, world size): where the in-memory splits are gathered, and the
        # device copies already made (split -> (key, images, labels)).
        self.placements: dict[tuple[str, str, int], Placement] = {}
        self._on_device: dict[str, tuple[tuple[Any, ...], torch.Tensor, torch.Tensor]] = {}
        # Stored in Lightning checkpoints (`datamodule_hyper_parameters`), so `predict` can
        # rebuild preprocessing from one. One namespaced key: Lightning refuses to log
        # hparams when a key is shared with the LightningModule's but the values differ.
        # Lists, not tuples: loggers write these to hparams.yaml.
        resolved = {"mean": list(self.mean), "std": list(self.std)}
        self.save_hyperparameters(
            {
                HPARAMS_KEY: {
                    **dataclasses.asdict(config),
                    **resolved,
                    "class_names": list(self.class_names),
                }
            }
        )

    @classmethod
    def from_config(
        cls, data: Mapping[str, Any] | DictConfig, path: str = "data"
    ) -> ImageDataModule:
        """Validate a mapping against `config_class` and build the module."""
        mapping, _ = cls.read_unset(to_plain(data, path), path)
        return cls(from_mapping(cls.config_class, mapping, path))

    @classmethod
    def read_unset(
        cls, mapping: Mapping[str, Any], path: str = "data"
    ) -> tuple[dict[str, Any], list[str]]:
        """`mapping` with the keys it leaves null read from the data itself, and the lines
        that say what was read (printed once before training). Most kinds state every key;
        image folders read their class count, channels and size from their files."""
        return dict(mapping), []

    # -- what a subclass provides -------------------------------------------------------
    def default_stats(self, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel (mean, std) used where the config leaves `mean` / `std` null."""
        return (self.default_mean,) * channels, (self.default_std,) * channels

    def build_datasets(self) -> tuple[Dataset[Any], Dataset[Any]]:
        """(train, val) datasets of raw-pixel samples; called once, from `setup`."""
        raise NotImplementedError

    @classmethod
    def test_split_missing(cls, mapping: Mapping[str, Any]) -> str | None:
        """None when the data `mapping` describes keeps a test split apart from training and
        validation; else what would give it one (the end of the error that refuses it)."""
        return None if cls.has_test_split else "data=fashion_mnist / data=mnist"

    def build_test_set(self) -> Dataset[Any]:
        """The held-out test split (kinds with `has_test_split`); called from setup("test")."""
        hint = type(self).test_split_missing(dataclasses.asdict(self.config))
        raise ConfigError(
            "split",
            f"data '{self.config.name}' has no test split apart from its validation split; "
            f"use split=val, or {hint or 'data=fashion_mnist / data=mnist'}",
        )

    def split_source(self, split: str) -> str:
        """Where the images of `split` ("test" or "val") come from, printed and saved beside
        their figures; kinds that read files name them."""
        return f"data '{self.config.name}'"

    def holds_in_memory(self, nbytes: int) -> bool:
        """Whether a data set of `nbytes` decoded bytes is held as one tensor (`in_memory`)."""
        choice = self.config.in_memory
        if choice == "auto":
            return nbytes <= self.config.in_memory_max_mb * 2**20
        return bool(choice)

    # -- Lightning hooks ----------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "test":  # the test split alone: fitting never reads it
            if self.test_set is None:
                self.test_set = self.build_test_set()
            return
        if self.train_set is None or self.val_set is None:
            try:
                self.train_set, self.val_set = self.build_datasets()
            except (MemoryError, RuntimeError) as exc:
                if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
                    raise
                # `data.image_size=2048` on digits asks for 30 GB: a bad value, not a crash
                size = self.config.image_size
                count = getattr(self.config, "num_samples", None)  # a kind that has the key
                key, value = ("data.num_samples", count) if count else ("data.image_size", size)
                raise ConfigError(key, f"got {value}: the data set does not fit in memory at "
                                  f"{size}x{size} pixels ({str(exc).splitlines()[0][:160]}); "
                                  "use a smaller data.image_size or fewer samples") from exc

    def train_dataloader(self) -> DataLoader[Any] | InMemoryLoader:
        self.setup("fit")
        assert self.train_set is not None  # set by setup()
        return self._loader(self.train_set, "train")

    def val_dataloader(self) -> DataLoader[Any] | InMemoryLoader:
        self.setup("validate")
        assert self.val_set is not None  # set by setup()
        return self._loader(self.val_set, "val")

    def test_dataloader(self) -> DataLoader[Any] | InMemoryLoader:
        """The held-out test split (`build_test_set`), never augmented."""
        self.setup("test")
        assert self.test_set is not None  # set by setup()
        return self._loader(self.test_set, "test")

    def placement(self) -> tuple[torch.device, int, int]:
        """(device, rank, world size) the loaders serve: the attached Trainer's, else
        (cpu, 0, 1) for a plain loop."""
        trainer = self.trainer
        if trainer is None:
            return torch.device("cpu"), 0, 1
        return trainer.strategy.root_device, trainer.global_rank, trainer.world_size

    def _loader(self, dataset: Dataset[Any], split: str) -> DataLoader[Any] | InMemoryLoader:
        cfg = self.config
        train = split == "train"
        collate = BatchTransform(self.normalize, self.augment if train else None)
        if isinstance(dataset, TensorImageDataset) and cfg.in_memory is not False:
            device, rank, world_size = self.placement()
            if self._decide(split, device, rank, world_size).resident:
                images, labels = self._placed(dataset, split, device, rank, world_size)
                return InMemoryLoader(images, labels, batch_size=cfg.batch_size,
                                      batch_fn=collate, shuffle=train,
                                      drop_last=train and cfg.drop_last,
                                      seed=rank_seed(cfg.seed, rank, world_size), device=device)
            return InMemoryLoader(
                dataset.images,
                dataset.labels,
                batch_size=cfg.batch_size,
                batch_fn=collate,
                shuffle=train,
                drop_last=train and cfg.drop_last,
                seed=cfg.seed,
                rank=rank,
                world_size=world_size,
                device=device,
                pin_memory=cfg.pin_memory,
            )
        # A generator of our own makes the shuffling order a function of data.seed alone;
        # it advances across epochs because Lightning keeps iterating the same loader.
        generator = torch.Generator().manual_seed(cfg.seed)
        return DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            shuffle=train,
            drop_last=train and cfg.drop_last,
            num_workers=cfg.num_workers,
            persistent_workers=cfg.num_workers > 0,
            pin_memory=cfg.pin_memory,
            generator=generator,
            collate_fn=collate,
        )

    def _decide(self, split: str, device: torch.device, rank: int,
                world_size: int) -> Placement:
        """Where this stage's in-memory splits are gathered: decided once per stage for
        all of them together (train and val share the budget), announced in one line."""
        stage = "test" if split == "test" else "fit"
        key = (stage, str(device), world_size)
        if key not in self.placements:
            sets = [self.test_set] if stage == "test" else [self.train_set, self.val_set]
            held = [d for d in sets if isinstance(d, TensorImageDataset)]
            images = held[0].images
            sample = math.prod(images.shape[1:]) * images.element_size() + 8  # + the label
            choice = self.config.device_resident
            free = None if choice is False else free_device_bytes(device)
            decided = plan_placement(choice, str(device), sample, tuple(len(d) for d in held),
                                     world_size, free, self.config.device_memory_share)
            if world_size > 1 and self.trainer is not None and decided.budget_bytes is not None:
                # Every rank on the same path, or their epochs would cover different samples
                # (each rank measured its own free memory: all of them do or none).
                agreed = self.trainer.strategy.reduce_boolean_decision(decided.resident,
                                                                       all=True)
                if agreed != decided.resident:
                    decided = Placement(False, "data: host gather, another rank's shard does "
                                        f"not fit (here: {decided.line.removeprefix('data: ')})")
            self.placements[key] = decided
            if rank == 0:
                log.info("%s", decided.line)
        return self.placements[key]

    def _placed(self, dataset: TensorImageDataset, split: str, device: torch.device,
                rank: int, world_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's shard of `dataset` on `device`, copied once per split."""
        key = (id(dataset), str(device), rank, world_size)
        held = self._on_device.get(split)
        if held is None or held[0] != key:
            rows = resident_indices(len(dataset), shuffle=split == "train",
                                    seed=self.config.seed, rank=rank, world_size=world_size)
            held = (key, *place(dataset.images, dataset.labels, rows, device))
            self._on_device[split] = held
        return held[1], held[2]

    # -- prediction ---------------------------------------------------------------------
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """One Pillow image as a (C, H, W) float tensor, resized and normalised exactly as
        validation images are (no augmentation)."""
        pixels = image_to_tensor(image, self.channels, self.image_size)
        return self.normalize(to_unit_float(pixels))
