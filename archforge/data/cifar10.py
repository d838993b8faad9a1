"""CIFAR-10 from the standard python-pickle archive (Krizhevsky 2009).

`data.root` may be the extracted `cifar-10-batches-py` folder, a folder holding it (or
holding `cifar-10-python.tar.gz`), or the `.tar.gz` itself; archives are read in place,
without extracting. With `data.download: true`, a missing archive is fetched from the
official URL and checked against its MD5 first.
"""

from __future__ import annotations

import importlib
import io
import pickle
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from archforge.data import download as downloader
from archforge.data.base import DataConfig, ImageDataModule
from archforge.data.registry import DATASETS
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import AugmentConfig
from archforge.errors import ConfigError
from archforge.typed import require

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
SIDE = 32
HOW_TO = (
    f"Download {URL} (md5 {MD5}) and set data.root to the .tar.gz or to the folder it "
    "extracts to, or set data.download=true to fetch it into data.root."
)


@dataclass
class Cifar10Config(DataConfig):
    name: str = "cifar10"
    root: str = "data/cifar10"
    download: bool = False
    num_classes: int = 10
    channels: int = 3
    image_size: int = SIDE
    batch_size: int = 128
    mean: tuple[float, ...] | None = (0.4914, 0.4822, 0.4465)
    std: tuple[float, ...] | None = (0.2470, 0.2435, 0.2616)
    # He et al. 2015, Sec. 4.2: pad 4 pixels, random 32x32 crop, horizontal flip.
    augment: AugmentConfig = field(
        default_factory=lambda: AugmentConfig(hflip=True, crop_padding=4)
    )

    def check(self, path: str = "data") -> None:
        super().check(path)
        require(self.num_classes == 10, f"{path}.num_classes", self.num_classes, "10 (CIFAR-10)")
        require(self.channels == 3, f"{path}.channels", self.channels, "3 (RGB)")
        require(self.image_size == SIDE, f"{path}.image_size", self.image_size, "32 (CIFAR-10)")


# -- reading the archive ------------------------------------------------------------------

# The batches are pickles, and unpickling can run arbitrary code: allow only what a CIFAR
# batch contains (numpy arrays, and bytes re-encoded by protocol-2 pickles).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")
        if module.startswith("numpy.core"):
            # numpy 2 moved numpy.core to numpy._core; the official files name the old path.
            module = module.replace("numpy.core", "numpy._core", 1)
            try:
                return getattr(importlib.import_module(module), name)
            except ImportError:  # numpy 1.x
                module = module.replace("numpy._core", "numpy.core", 1)
        return getattr(importlib.import_module(module), name)


def _unpickle(stream: IO[bytes], where: str) -> dict[str, Any]:
    try:
        # encoding="bytes": the official batches are Python 2 pickles with byte-string keys.
        loaded = _BatchUnpickler(stream, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means "not a CIFAR batch"
        raise ConfigError("data.root", f"{where} is not a readable CIFAR-10 batch: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError("data.root", f"{where} holds {type(loaded).__name__}, not a dict")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in loaded.items()}


def _images_and_labels(batch: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    if "data" not in batch or "labels" not in batch:
        raise ConfigError("data.root", f"{where} has no 'data' and 'labels' entries")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE:
        raise ConfigError(
            "data.root", f"{where}: 'data' is {data.dtype} {data.shape}; expected uint8 N x 3072"
        )
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ConfigError("data.root", f"{where}: 'labels' must be N integers in 0..9")
    # Each row is the red plane, then green, then blue, each 32x32 row-major.
    return data.reshape(-1, 3, SIDE, SIDE), labels


def _iter_archive(archive: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """(member base name, stream) for the wanted members, in one pass over the gzip."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    stream = tar.extractfile(member)
                    if stream is not None:
                        yield base, io.BytesIO(stream.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigError("data.root", f"{archive} is not a readable .tar.gz: {exc}") from exc


def _iter_folder(folder: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    for base in sorted(wanted):
        path = folder / base
        if path.is_file():
            with path.open("rb") as stream:
                yield base, stream


def locate(root: Path) -> tuple[str, Path] | None:
    """("folder", path) or ("archive", path) for where the batches are, or None."""
    if root.is_file():
        return ("archive", root)
    if (root / TRAIN_BATCHES[0]).is_file():
        return ("folder", root)
    if (root / FOLDER / TRAIN_BATCHES[0]).is_file():
        return ("folder", root / FOLDER)
    if (root / ARCHIVE).is_file():
        return ("archive", root / ARCHIVE)
    return None


def read_batches(
    kind: str, path: Path
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], list[str]]:
    """(train images, labels), (test images, labels) and class names from a located source."""
    wanted = {*TRAIN_BATCHES, TEST_BATCH, META}
    iterate: Callable[[Path, set[str]], Iterator[tuple[str, IO[bytes]]]] = (
        _iter_archive if kind == "archive" else _iter_folder
    )
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    names = list(CLASSES)
    for base, stream in iterate(path, wanted):
        where = f"{path}:{base}" if kind == "archive" else str(path / base)
        batch = _unpickle(stream, where)
        if base == META:
            raw = batch.get("label_names", names)
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw]
        else:
            found[base] = _images_and_labels(batch, where)
    missing = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if b not in found]
    if missing:
        raise ConfigError("data.root", f"{path} lacks {', '.join(missing)}. {HOW_TO}")
    train = [found[b] for b in TRAIN_BATCHES]
    train_images = np.concatenate([t[0] for t in train])
    train_labels = np.concatenate([t[1] for t in train])
    return (train_images, train_labels), found[TEST_BATCH], names


@DATASETS.register("cifar10")
class Cifar10DataModule(ImageDataModule):
    """CIFAR-10: 50,000 training and 10,000 test images (the test set validates), kept in
    memory as uint8 (150 MB) and converted per batch."""

    config_class = Cifar10Config
    config: Cifar10Config

    def __init__(self, config: Cifar10Config) -> None:
        super().__init__(config, class_names=list(CLASSES))
        self.root = Path(config.root).expanduser()
        if locate(self.root) is None and not config.download:
            raise ConfigError(
                "data.root", f"no CIFAR-10 data at {self.root} (data.download is false). {HOW_TO}"
            )

    def archive_destination(self) -> Path:
        """Where a download goes: `root` itself if it names a .tar.gz, else inside it."""
        if self.root.name.endswith((".tar.gz", ".tgz")):
            return self.root
        return self.root / ARCHIVE

    def prepare_data(self) -> None:
        """Download when missing (Lightning calls this on one process per node)."""
        if locate(self.root) is None and self.config.download:
            downloader.download_file(URL, self.archive_destination(), MD5, "data.root", HOW_TO)

    def build_datasets(self) -> tuple[TensorImageDataset, TensorImageDataset]:
        self.prepare_data()  # a plain (non-Lightning) caller gets the download too
        source = locate(self.root)
        if source is None:
            raise ConfigError("data.root", f"no CIFAR-10 data at {self.root}. {HOW_TO}")
        (train_x, train_y), (test_x, test_y), names = read_batches(*source)
        if len(names) == len(CLASSES):
            self.class_names = names
        return (
            TensorImageDataset(torch.from_numpy(train_x), torch.from_numpy(train_y)),
            TensorImageDataset(torch.from_numpy(test_x), torch.from_numpy(test_y)),
        )
