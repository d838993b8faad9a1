"""Writers for small on-disk datasets in the official formats (the data tests never download).

A uniquely named module rather than conftest, so tests can import it without clashing with
other conftest.py files under tests/.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_TRAIN_PER_BATCH = 4
CIFAR_TEST = 6


def write_cifar_folder(parent: Path) -> Path:
    """A CIFAR-10-format `cifar-10-batches-py` folder: 5 x 4 train images, 6 test images.

    Pixel values encode (image index, channel) so tests can check the layout: image i of
    the whole training set has value (i + 10 * c) % 256 everywhere in channel c.
    """
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    index = 0
    for b in range(1, 6):
        rows, labels = [], []
        for _ in range(CIFAR_TRAIN_PER_BATCH):
            planes = [np.full(1024, (index + 10 * c) % 256, np.uint8) for c in range(3)]
            rows.append(np.concatenate(planes))
            labels.append(index % 10)
            index += 1
        batch = {b"batch_label": b"training batch", b"data": np.stack(rows), b"labels": labels}
        (folder / f"data_batch_{b}").write_bytes(pickle.dumps(batch, protocol=2))
    rng = np.random.default_rng(0)
    test = {
        b"data": rng.integers(0, 256, (CIFAR_TEST, 3072), dtype=np.uint8),
        b"labels": [i % 10 for i in range(CIFAR_TEST)],
    }
    (folder / "test_batch").write_bytes(pickle.dumps(test, protocol=2))
    names = [
        n.encode()
        for n in ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    ]
    meta = {b"label_names": names, b"num_cases_per_batch": CIFAR_TRAIN_PER_BATCH}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def write_cifar_archive(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


CLASS_COLOURS = {"cats": (200, 40, 40), "dogs": (40, 40, 200)}


def write_image_folder(root: Path, per_class: int = 3, broken: bool = True) -> Path:
    """root/cats/*.png and root/dogs/*.jpg (tiny, non-square), plus a corrupt JPEG, a text
    file and a hidden file when `broken`."""
    for name, colour in CLASS_COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (20, 12), colour)
            image.putpixel((i, i), (255, 255, 255))  # make each file distinct
            suffix = "png" if name == "cats" else "jpg"
            image.save(folder / f"{name[:-1]}.{i}.{suffix}")
    if broken:
        (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
        (root / "dogs" / "notes.txt").write_text("not an image\n")
        (root / "dogs" / ".DS_Store").write_bytes(b"\x00\x01")
    return root


IDX_TRAIN = 40
IDX_TEST = 12


def write_idx_set(folder: Path, gz: bool = True, train: int = IDX_TRAIN,
                  test: int = IDX_TEST) -> Path:
    """The four MNIST-format IDX files (gzip or raw) of a tiny set in `folder`.

    Image i of a split has value i % 256 everywhere and label i % 10, so tests can check
    which images landed where; test images are 255 - that, so no test image equals a
    training image.
    """
    from archforge.data.idx import write_idx

    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n, prefix in (("train", train, "train"), ("test", test, "t10k")):
        values = np.arange(n) % 256
        if split == "test":
            values = 255 - values
        images = np.broadcast_to(values[:, None, None], (n, 28, 28)).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10)
    return folder
