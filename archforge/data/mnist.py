"""MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000
training and 10,000 test images, 28x28 grey, 10 classes, four IDX files each.

Training and validation both come from the training files (a seeded, stratified split,
optionally of a fixed stratified subset: `data.train_subset`). The test files are read only
when the test split is asked for (`archforge evaluate ... split=test`, `archforge train
test=true`), never by fitting or by a search. `data.root` is the folder holding the files
(gzip-compressed as distributed, or raw); null picks Debian's `dataset-fashion-mnist`
folder when it is installed, else `data/<name>`. With `data.download: true` missing files
are fetched and checked against their published MD5s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from archforge.data import download as downloader
from archforge.data.base import DataConfig, ImageDataModule
from archforge.data.idx import read_idx
from archforge.data.registry import DATASETS
from archforge.data.split import check_classes, check_fraction, keep_classes, stratified_split
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import AugmentConfig
from archforge.errors import ConfigError
from archforge.typed import require

SIDE = 28
# (images, labels) file names per split, without the .gz a distributed copy carries.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class IdxSource:
    """Where a data set's files come from and what they hold."""

    title: str
    url: str  # folder URL the four .gz files are under
    md5: dict[str, str]  # .gz file name -> published MD5
    classes: tuple[str, ...]
    system_root: str | None  # where a distribution package installs the files, if any
    install_hint: str  # how to install them from a package, or ""

    def how_to(self, key: str = "data.root") -> str:
        names = ", ".join(f"{name}.gz" for pair in FILES.values() for name in pair)
        package = f"{self.install_hint}, or d" if self.install_hint else "D"
        return (f"{package}ownload {names} from {self.url} and set {key} to their folder, or "
                "set data.download=true to fetch them into data.root.")


FASHION = IdxSource(
    title="Fashion-MNIST",
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    md5={
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    system_root="/usr/share/datasets/fashion-mnist",
    install_hint="On Debian or Ubuntu: apt-get install dataset-fashion-mnist",
)
MNIST = IdxSource(
    title="MNIST",
    url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    md5={
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    classes=tuple(str(i) for i in range(10)),
    system_root=None,
    install_hint="",
)


@dataclass
class IdxConfig(DataConfig):
    """Keys shared by the IDX data sets (`conf/data/mnist.yaml`, `fashion_mnist.yaml`)."""

    root: str | None = None  # null: the system folder when installed, else data/<name>
    download: bool = False
    num_classes: int = 10
    channels: int = 1
    image_size: int = SIDE
    batch_size: int = 128
    val_fraction: float = 0.1  # of the (subset of the) training files: 6,000 of 60,000
    # Use a fixed, stratified, seeded sample of this many training-file images (before
    # the train/val split); null uses all of them.
    train_subset: int | None = None
    # A subset of the classes, relabelled 0..k-1 in the order given (transfer experiments:
    # pretrain on 0-4, fine-tune on 5-9), in every split; null keeps all ten.
    classes: list[int] | None = None

    def check(self, path: str = "data") -> None:
        super().check(path)
        if self.classes is not None:
            check_classes(self.classes, f"{path}.classes")
        wanted = 10 if self.classes is None else len(self.classes)
        require(self.num_classes == wanted, f"{path}.num_classes", self.num_classes,
                "10" if self.classes is None
                else f"{wanted}, one per entry of {path}.classes={self.classes}")
        require(self.channels == 1, f"{path}.channels", self.channels, "1 (grey images)")
        require(self.image_size == SIDE, f"{path}.image_size", self.image_size,
                f"{SIDE} (the images are {SIDE}x{SIDE})")
        check_fraction(self.val_fraction, f"{path}.val_fraction")
        if self.train_subset is not None:
            require(self.train_subset >= 20, f"{path}.train_subset", self.train_subset,
                    "at least 20 images (2 per class), or null for all")


@dataclass
class FashionMnistConfig(IdxConfig):
    name: str = "fashion_mnist"
    mean: tuple[float, ...] | None = (0.2860,)  # training-set pixel statistics
    std: tuple[float, ...] | None = (0.3530,)
    # Clothes are left-right symmetric in meaning: crop with padding and mirror.
    augment: AugmentConfig = field(
        default_factory=lambda: AugmentConfig(hflip=True, crop_padding=2)
    )


@dataclass
class MnistConfig(IdxConfig):
    name: str = "mnist"
    mean: tuple[float, ...] | None = (0.1307,)
    std: tuple[float, ...] | None = (0.3081,)
    # A mirrored digit is another glyph (or none): crops only.
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(crop_padding=2))


class IdxDataModule(ImageDataModule):
    """A data set of four IDX files, held in memory as uint8 (47 MB for 60,000 images)."""

    config_class: ClassVar[type[DataConfig]] = IdxConfig
    config: IdxConfig
    source: ClassVar[IdxSource]
    has_test_split = True

    def __init__(self, config: IdxConfig) -> None:
        names = list(self.source.classes)
        if config.classes is not None:
            names = [names[c] for c in config.classes]
        super().__init__(config, class_names=names)
        self.root = self.resolve_root(config)
        if not config.download:
            self.locate("train")  # a wrong root fails here, before any training starts

    def resolve_root(self, config: IdxConfig) -> Path:
        if config.root is not None:
            return Path(config.root).expanduser()
        system = self.source.system_root
        if system is not None and Path(system).is_dir():
            return Path(system)
        return Path("data") / config.name

    def locate(self, split: str) -> tuple[Path, Path]:
        """(images, labels) paths of `split`, each the .gz or the raw file, whichever exists."""
        found = []
        for name in FILES[split]:
            candidates = [self.root / f"{name}.gz", self.root / name]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                raise ConfigError(
                    "data.root",
                    f"no {self.source.title} file {name}(.gz) in {self.root}"
                    f"{' (data.download is false)' if not self.config.download else ''}. "
                    f"{self.source.how_to()}",
                )
            found.append(path)
        return found[0], found[1]

    def prepare_data(self) -> None:
        """Download the missing files (Lightning calls this on one process per node)."""
        if not self.config.download:
            return
        for name in self.source.md5:
            raw = name.removesuffix(".gz")
            if not (self.root / name).is_file() and not (self.root / raw).is_file():
                downloader.download_file(self.source.url + name, self.root / name,
                                         self.source.md5[name], "data.root",
                                         self.source.how_to())

    def read_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) uint8 images and (N,) int64 labels of `split` ("train" or "test")."""
        images_path, labels_path = self.locate(split)
        images = read_idx(images_path, 3)
        labels = read_idx(labels_path, 1)
        if images.shape[0] != labels.shape[0]:
            raise ConfigError(
                "data.root",
                f"{images_path} holds {images.shape[0]:,} images but {labels_path} "
                f"{labels.shape[0]:,} labels",
            )
        if images.shape[1:] != (SIDE, SIDE):
            raise ConfigError("data.root", f"{images_path} holds images of "
                              f"{images.shape[1]}x{images.shape[2]}; expected {SIDE}x{SIDE}")
        total = len(self.source.classes)
        if labels.size and int(labels.max()) >= total:
            raise ConfigError("data.root", f"{labels_path} holds label {int(labels.max())}; "
                              f"expected 0..{total - 1}")
        target = labels.astype(np.int64)
        if self.config.classes is not None:
            keep, target = keep_classes(target, self.config.classes)
            images = images[keep]
        return (torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(target))

    def build_datasets(self) -> tuple[TensorImageDataset, TensorImageDataset]:
        self.prepare_data()  # a plain (non-Lightning) caller gets the download too
        images, labels = self.read_split("train")
        cfg = self.config
        if cfg.train_subset is not None and cfg.train_subset < len(labels):
            _, keep = stratified_split(labels.numpy(), cfg.train_subset / len(labels), cfg.seed)
            index = torch.from_numpy(keep)
            images, labels = images[index], labels[index]
        train, val = stratified_split(labels.numpy(), cfg.val_fraction, cfg.seed)
        train_idx, val_idx = torch.from_numpy(train), torch.from_numpy(val)
        return (TensorImageDataset(images[train_idx], labels[train_idx]),
                TensorImageDataset(images[val_idx], labels[val_idx]))

    def build_test_set(self) -> TensorImageDataset:
        self.prepare_data()
        return TensorImageDataset(*self.read_split("test"))

    def split_source(self, split: str) -> str:
        if split == "test":
            return f"the t10k files in {self.root}"
        return (f"{self.config.val_fraction:g} of the training files in {self.root} "
                "(data.val_fraction)")


@DATASETS.register("fashion_mnist")
class FashionMnistDataModule(IdxDataModule):
    """Fashion-MNIST: Zalando's article images, a harder drop-in for MNIST."""

    config_class = FashionMnistConfig
    source = FASHION


@DATASETS.register("mnist")
class MnistDataModule(IdxDataModule):
    """MNIST handwritten digits."""

    config_class = MnistConfig
    source = MNIST
