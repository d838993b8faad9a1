"""Images in one sub-folder per class, the layout Keras' `flow_from_directory` reads:

    training_set/cats/cat.1.jpg   training_set/dogs/dog.1.jpg   ...
    test_set/cats/...             test_set/dogs/...

Set `train_dir` and `val_dir` for separate folders, or `root` alone for a seeded,
stratified `val_fraction` split. Class indices follow the sorted folder names. `test_dir`,
optional, is a held-out folder in the same layout: only `archforge evaluate split=test` and
`archforge train test=true` read it, never fitting or a search. Files are
decoded with Pillow and resized to `image_size`; every file is verified during `setup`, and
one that cannot be read is skipped with a warning naming it, so no epoch dies on a bad file.

A folder whose decoded images fit in `data.in_memory_max_mb` (or any folder with
`data.in_memory=true`) is decoded once, during `setup`, into one uint8 tensor; larger ones
stream through a DataLoader that decodes every epoch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from archforge.data.base import DataConfig, DataWarning, ImageDataModule
from archforge.data.folder_stats import describe, folder_stats, list_files
from archforge.data.imaging import load_image, pil_mode, verify_image
from archforge.data.registry import DATASETS
from archforge.data.split import check_fraction, stratified_split
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import AugmentConfig
from archforge.errors import ConfigError

Sample = tuple[Path, int]

DATA_KEYS = ("num_classes", "channels", "image_size")  # null: read from the folder
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The mean of ImageNet's channel statistics, for grayscale (channels=1) images.
IMAGENET_GRAY_MEAN = (0.449,)
IMAGENET_GRAY_STD = (0.226,)


@dataclass
class ImageFolderConfig(DataConfig):
    name: str = "image_folder"
    root: str | None = None  # one folder, split by val_fraction
    train_dir: str | None = None  # or separate folders
    val_dir: str | None = None  # null with train_dir: split train_dir by val_fraction
    test_dir: str | None = None  # held out: read only by evaluate split=test and test=true
    val_fraction: float = 0.2
    # null in a config (conf/data/image_folder.yaml): read from the folder, see
    # ImageFolderDataModule.read_unset; these defaults apply to a dataclass built in Python.
    num_classes: int = 2
    channels: int = 3
    image_size: int = 224
    batch_size: int = 32
    verify: bool = True  # check every file during setup (Pillow's verify, no full decode)
    # Keras' ImageDataGenerator recipe: horizontal_flip, shear_range, zoom_range=0.2.
    augment: AugmentConfig = field(
        default_factory=lambda: AugmentConfig(hflip=True, shear=10.0, zoom=0.2)
    )

    def check(self, path: str = "data") -> None:
        super().check(path)
        pil_mode(self.channels)  # 1 or 3 channels: what Pillow decodes to
        check_fraction(self.val_fraction, f"{path}.val_fraction")
        check_sources(self.root, self.train_dir, self.val_dir, path)


def check_sources(root: Any, train_dir: Any, val_dir: Any, path: str = "data") -> None:
    """Exactly one of `root` and `train_dir`; `val_dir` only with `train_dir`."""
    if (root is None) == (train_dir is None):
        raise ConfigError(
            f"{path}.root",
            f"set exactly one of {path}.root (split by {path}.val_fraction) and "
            f"{path}.train_dir (with {path}.val_dir for a separate validation folder); "
            f"got root={root!r}, train_dir={train_dir!r}",
        )
    if val_dir is not None and train_dir is None:
        raise ConfigError(f"{path}.val_dir", f"needs {path}.train_dir, not {path}.root")


def _folder(value: Any, key: str) -> Path:
    if not isinstance(value, str):
        raise ConfigError(key, f"got {value!r}; expected a folder path")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(key, f"folder not found: {path}")
    return path


def training_folder(root: Any, train_dir: Any, path: str = "data") -> tuple[Path, str]:
    """The folder whose class sub-folders define the classes, and its config key."""
    if root is not None:
        return _folder(root, f"{path}.root"), f"{path}.root"
    return _folder(train_dir, f"{path}.train_dir"), f"{path}.train_dir"


def no_classes(folder: Path, key: str) -> ConfigError:
    return ConfigError(
        key,
        f"{folder} has no class sub-folders; expected one folder per class (e.g. cats/ and "
        "dogs/) holding that class's images",
    )


def class_folders(root: Path) -> list[str]:
    """Sorted names of the visible sub-folders of `root`."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _warn_skipped(path: Path, reason: str) -> None:
    warnings.warn(f"skipping unreadable image {path}: {reason}", DataWarning, stacklevel=3)


def scan(root: Path, classes: list[str], verify: bool) -> list[Sample]:
    """(file, class index) for every file under the class folders, minus unreadable ones."""
    samples: list[Sample] = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            continue
        for path in list_files(folder):
            reason = verify_image(path) if verify else None
            if reason is None:
                samples.append((path, label))
            else:
                _warn_skipped(path, reason)
    return samples


class ImageFileDataset(Dataset[tuple[torch.Tensor, int]]):
    """Decodes `(file, label)` samples on access to (C, size, size) uint8 tensors.

    A file that passed `verify()` can still fail to decode (a truncated JPEG, say). Rather
    than end the epoch, it is reported once and replaced by the next readable sample, so
    batches keep their size.
    """

    def __init__(self, samples: list[Sample], channels: int, size: int) -> None:
        self.samples = samples
        self.channels = channels
        self.size = size
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        for step in range(len(self.samples)):
            i = (index + step) % len(self.samples)
            if i in self.bad:
                continue
            path, label = self.samples[i]
            try:
                return load_image(path, self.channels, self.size), label
            except Exception as exc:  # any decode failure: skip, never crash mid-epoch
                self.bad.add(i)
                _warn_skipped(path, f"{type(exc).__name__}: {exc}")
        raise RuntimeError("no image in this dataset could be decoded")

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


class DecodedImageDataset(TensorImageDataset):
    """Image files decoded once into one (N, C, size, size) uint8 tensor; `samples` lists
    the `(file, label)` pairs it holds, in row order."""

    def __init__(self, images: torch.Tensor, samples: list[Sample]) -> None:
        super().__init__(images, torch.tensor([label for _, label in samples], dtype=torch.int64))
        self.samples = samples

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


def decode_all(samples: list[Sample], channels: int, size: int) -> DecodedImageDataset:
    """Every sample decoded once; a file that fails to decode is skipped with a warning, as
    the streaming dataset does."""
    images = torch.empty(len(samples), channels, size, size, dtype=torch.uint8)
    kept: list[Sample] = []
    for path, label in samples:
        try:
            images[len(kept)] = load_image(path, channels, size)
        except Exception as exc:  # any decode failure: skip, never crash
            _warn_skipped(path, f"{type(exc).__name__}: {exc}")
            continue
        kept.append((path, label))
    if len(kept) < len(samples):
        images = images[: len(kept)].clone()  # release the rows of skipped files
    return DecodedImageDataset(images, kept)


@DATASETS.register("image_folder")
class ImageFolderDataModule(ImageDataModule):
    """Class-per-folder images, decoded with Pillow; folders are checked when it is built."""

    config_class = ImageFolderConfig
    config: ImageFolderConfig

    def __init__(self, config: ImageFolderConfig) -> None:
        config.check()
        self.train_root, self.train_key = training_folder(config.root, config.train_dir)
        self.val_root = None if config.val_dir is None else _folder(config.val_dir, "data.val_dir")
        classes = class_folders(self.train_root)
        self._check_classes(classes, config.num_classes)
        super().__init__(config, class_names=classes)

    @classmethod
    def test_split_missing(cls, mapping: Mapping[str, Any]) -> str | None:
        """None when `data.test_dir` names a folder (checked here: `test=true` refuses a
        missing one before training), else how to name one."""
        if mapping.get("test_dir") is None:
            return ("pass data.test_dir=<folder> (one sub-folder per class, as in "
                    "data.train_dir)")
        _folder(mapping["test_dir"], "data.test_dir")
        return None

    @classmethod
    def read_unset(
        cls, mapping: Mapping[str, Any], path: str = "data"
    ) -> tuple[dict[str, Any], list[str]]:
        """`num_classes`, `channels` and `image_size` left null (or out) are read from the
        training folder: its class sub-folders, its images' modes and sizes
        (archforge/data/folder_stats.py). A value the config states is kept, and checked
        against the folder when the module is built."""
        filled = dict(mapping)
        unset = [k for k in DATA_KEYS if filled.get(k) is None]
        augment = filled.get("augment")
        hflip = augment.get("hflip", True) if isinstance(augment, Mapping) else True
        if not unset and not hflip:
            return filled, []
        check_sources(filled.get("root"), filled.get("train_dir"), filled.get("val_dir"), path)
        folder, key = training_folder(filled.get("root"), filled.get("train_dir"), path)
        classes = class_folders(folder)
        if not classes:
            raise no_classes(folder, key)
        stats = folder_stats(folder, classes)
        side, rule = stats.size()
        read = {"num_classes": len(classes), "channels": stats.channels, "image_size": side}
        filled.update({k: read[k] for k in unset})
        channels, size = filled["channels"], filled["image_size"]
        if "image_size" not in unset:
            rule = "native" if stats.sizes == (((size, size), stats.images),) else "resized"
        lines = describe(stats, unset, channels, size, rule, bool(hflip))
        return filled, lines

    def default_stats(self, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """ImageNet's statistics: the usual choice for photos, and for pretrained weights."""
        if channels == 3:
            return IMAGENET_MEAN, IMAGENET_STD
        return IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD

    def _check_classes(self, classes: list[str], num_classes: int) -> None:
        if not classes:
            raise no_classes(self.train_root, self.train_key)
        if len(classes) != num_classes:
            raise ConfigError(
                "data.num_classes",
                f"is {num_classes}, but {self.train_root} has {len(classes)} class folders: "
                f"{', '.join(classes)}",
            )
        if self.val_root is not None:
            self._check_known_classes(self.val_root, "data.val_dir", classes)

    def _check_known_classes(self, folder: Path, key: str, classes: list[str]) -> None:
        """A held-out folder may lack a class, never hold one the training folder lacks."""
        extra = sorted(set(class_folders(folder)) - set(classes))
        if extra:
            raise ConfigError(
                key, f"{folder} has class folders not in {self.train_root}: {', '.join(extra)}"
            )

    def build_datasets(self) -> tuple[Dataset[Any], Dataset[Any]]:
        cfg = self.config
        train = scan(self.train_root, self.class_names, cfg.verify)
        self._check_nonempty(train, self.train_root, self.train_key)
        if self.val_root is not None:
            val = scan(self.val_root, self.class_names, cfg.verify)
        else:
            train_idx, val_idx = stratified_split(
                [label for _, label in train], cfg.val_fraction, cfg.seed
            )
            train, val = [train[i] for i in train_idx], [train[i] for i in val_idx]
        if self.val_root is not None:
            self._check_nonempty(val, self.val_root, "data.val_dir")
        else:
            self._check_nonempty(val, self.train_root, "data.val_fraction")
        self._check_every_class(train)
        size = cfg.image_size
        if self.holds_in_memory((len(train) + len(val)) * cfg.channels * size * size):
            train_set = decode_all(train, cfg.channels, size)
            val_set = decode_all(val, cfg.channels, size)
            # Files that passed verify() but failed to decode may have emptied a part.
            self._check_nonempty(train_set.samples, self.train_root, self.train_key)
            self._check_nonempty(val_set.samples, self.val_root or self.train_root,
                                 "data.val_dir" if self.val_root else "data.val_fraction")
            self._check_every_class(train_set.samples)
            return train_set, val_set
        return (
            ImageFileDataset(train, cfg.channels, size),
            ImageFileDataset(val, cfg.channels, size),
        )

    def build_test_set(self) -> Dataset[Any]:
        """`data.test_dir`, labelled by the training folder's classes; read only here."""
        cfg = self.config
        if cfg.test_dir is None:
            return super().build_test_set()  # refused, with the hint to pass data.test_dir
        root = _folder(cfg.test_dir, "data.test_dir")
        self._check_known_classes(root, "data.test_dir", self.class_names)
        samples = scan(root, self.class_names, cfg.verify)
        self._check_nonempty(samples, root, "data.test_dir")
        size = cfg.image_size
        if not self.holds_in_memory(len(samples) * cfg.channels * size * size):
            return ImageFileDataset(samples, cfg.channels, size)
        test = decode_all(samples, cfg.channels, size)
        self._check_nonempty(test.samples, root, "data.test_dir")
        return test

    def split_source(self, split: str) -> str:
        cfg = self.config
        if split == "test" and cfg.test_dir is not None:
            return f"{Path(cfg.test_dir).expanduser()} (data.test_dir)"
        if split == "val" and self.val_root is not None:
            return f"{self.val_root} (data.val_dir)"
        if split == "val":
            return f"{cfg.val_fraction:g} of {self.train_root} (data.val_fraction)"
        return super().split_source(split)

    def _check_nonempty(self, samples: list[Sample], folder: Path, key: str) -> None:
        if not samples:
            raise ConfigError(key, f"no readable images under {folder}")

    def _check_every_class(self, samples: Iterable[Sample]) -> None:
        """A class with no readable training image would train a model that can never
        predict it (with one class left, one that reports 100% accuracy): refuse it."""
        present = {label for _, label in samples}
        empty = [name for label, name in enumerate(self.class_names) if label not in present]
        if empty:
            folders = ", ".join(str(self.train_root / name) for name in empty)
            raise ConfigError(
                self.train_key,
                f"class folder(s) with no readable training images: {folders}; add images, "
                "fix the unreadable files (warned above) or remove the folder",
            )
