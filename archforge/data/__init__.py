"""archforge.data: Lightning data modules for the `data` config group.

    from archforge.data import build_datamodule
    dm = build_datamodule(cfg.data)   # digits | synthetic | cifar10 | image_folder | mnist | ...
    dm.setup("fit"); images, labels = next(iter(dm.train_dataloader()))

Data sets that fit in memory are served by `InMemoryLoader` (`data.in_memory`, default
auto); large image folders by a DataLoader. Importing this package registers the built-in
dataset kinds in `DATASETS`.
"""

from archforge.data.base import DataConfig, DataWarning, ImageDataModule
from archforge.data.build import build_datamodule
from archforge.data.cifar10 import Cifar10Config, Cifar10DataModule
from archforge.data.digits import DigitsConfig, DigitsDataModule
from archforge.data.image_folder import ImageFolderConfig, ImageFolderDataModule
from archforge.data.imaging import image_to_tensor
from archforge.data.in_memory import InMemoryLoader
from archforge.data.mnist import (
    FashionMnistConfig,
    FashionMnistDataModule,
    MnistConfig,
    MnistDataModule,
)
from archforge.data.registry import DATASETS
from archforge.data.synthetic import SyntheticConfig, SyntheticDataModule
from archforge.data.transforms import AugmentConfig

__all__ = [
    "DATASETS",
    "AugmentConfig",
    "Cifar10Config",
    "Cifar10DataModule",
    "DataConfig",
    "DataWarning",
    "DigitsConfig",
    "DigitsDataModule",
    "FashionMnistConfig",
    "FashionMnistDataModule",
    "ImageDataModule",
    "ImageFolderConfig",
    "ImageFolderDataModule",
    "InMemoryLoader",
    "MnistConfig",
    "MnistDataModule",
    "SyntheticConfig",
    "SyntheticDataModule",
    "build_datamodule",
    "image_to_tensor",
]
