"""MNIST and Fashion-MNIST from small IDX files the tests write (nothing is downloaded)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sample_data import IDX_TEST, IDX_TRAIN, write_idx_set

from archforge.data import FashionMnistDataModule, MnistDataModule, build_datamodule, download
from archforge.data.idx import read_idx, write_idx
from archforge.data.mnist import IdxDataModule
from archforge.errors import ConfigError


def _built(name: str, root: Path, **overrides: object) -> IdxDataModule:
    dm = build_datamodule({"name": name, "root": str(root), "val_fraction": 0.25, **overrides})
    assert isinstance(dm, IdxDataModule)
    return dm


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_reads_gzip_and_raw_files_into_a_stratified_split(
    name: str, gz: bool, tmp_path: Path
) -> None:
    dm = _built(name, write_idx_set(tmp_path / "idx", gz=gz))
    dm.setup("fit")
    train, val = dm.train_set, dm.val_set
    assert len(train) == 30 and len(val) == 10  # type: ignore[arg-type]
    assert train.images.shape == (30, 1, 28, 28) and train.images.dtype == torch.uint8  # type: ignore[union-attr]
    # Every class keeps 3 training and 1 validation image; pixels follow their labels.
    assert torch.bincount(val.labels).tolist() == [1] * 10  # type: ignore[union-attr]
    for split in (train, val):
        index = split.images[:, 0, 0, 0].long()  # type: ignore[union-attr]
        assert torch.equal(index % 10, split.labels)  # type: ignore[union-attr]
        assert torch.all(split.images == index.view(-1, 1, 1, 1).to(torch.uint8))  # type: ignore[union-attr]
    assert dm.test_set is None  # fitting never reads the test files
    expected = FashionMnistDataModule if name == "fashion_mnist" else MnistDataModule
    assert isinstance(dm, expected) and len(dm.class_names) == 10


def test_the_test_split_is_the_t10k_files_unaugmented(tmp_path: Path) -> None:
    dm = _built("fashion_mnist", write_idx_set(tmp_path / "idx"), batch_size=IDX_TEST)
    images, labels = next(iter(dm.test_dataloader()))
    assert dm.train_set is None  # the test split alone was read
    assert labels.tolist() == [i % 10 for i in range(IDX_TEST)]
    pixels = torch.tensor([255 - i for i in range(IDX_TEST)], dtype=torch.float32) / 255
    expected = (pixels - 0.2860) / 0.3530
    assert torch.allclose(images[:, 0, 14, 14], expected, atol=1e-5)  # no crop, no flip
    assert torch.allclose(images, images[:, :, :1, :1].expand_as(images), atol=1e-5)


def test_train_subset_is_fixed_and_stratified(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx", train=200)
    first = _built("fashion_mnist", root, train_subset=40)
    first.setup("fit")
    again = _built("fashion_mnist", root, train_subset=40)
    again.setup("fit")
    assert len(first.train_set) + len(first.val_set) == 40  # type: ignore[arg-type]
    assert torch.equal(first.train_set.images, again.train_set.images)  # type: ignore[union-attr]
    assert torch.bincount(first.train_set.labels).tolist() == [3] * 10  # type: ignore[union-attr]


def test_augmentation_per_data_set() -> None:
    from archforge.data.mnist import FashionMnistConfig, MnistConfig

    clothes, digits = FashionMnistConfig().augment, MnistConfig().augment
    assert clothes.hflip and clothes.crop_padding == 2
    assert not digits.hflip and digits.crop_padding == 2  # a mirrored digit is no digit


def _error(dm: IdxDataModule) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        dm.setup("fit")
    assert info.value.path == "data.root"
    return info.value


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx", gz=False)
    images = root / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    message = str(_error(_built("mnist", root)))
    assert str(images) in message and "truncated" in message and "31,360 values" in message


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx")
    labels = root / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-6])
    message = str(_error(_built("fashion_mnist", root)))
    assert str(labels) in message and "not a readable gzip" in message


def test_wrong_magic_number_names_the_file(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx")
    labels = root / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(12)))  # an image header
    message = str(_error(_built("fashion_mnist", root)))
    assert str(labels) in message and "magic number 0x00000803" in message
    assert "expected 0x00000801" in message


def test_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx")
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(IDX_TRAIN - 1, np.uint8))
    message = str(_error(_built("fashion_mnist", root)))
    assert "train-images-idx3-ubyte.gz holds 40 images" in message
    assert "train-labels-idx1-ubyte.gz 39 labels" in message


def test_labels_out_of_range_name_the_file(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx")
    write_idx(root / "train-labels-idx1-ubyte.gz", np.full(IDX_TRAIN, 10, np.uint8))
    assert "holds label 10" in str(_error(_built("fashion_mnist", root)))


def test_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _built("fashion_mnist", tmp_path / "nowhere")
    message = str(info.value)
    assert info.value.path == "data.root" and "nowhere" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "data.download=true" in message and "train-images-idx3-ubyte.gz" in message
    with pytest.raises(ConfigError, match="ossci-datasets") as info:
        _built("mnist", tmp_path / "nowhere")
    assert "apt-get" not in str(info.value)


def test_missing_test_files_fail_only_when_the_test_split_is_read(tmp_path: Path) -> None:
    root = write_idx_set(tmp_path / "idx")
    (root / "t10k-images-idx3-ubyte.gz").unlink()
    dm = _built("fashion_mnist", root)
    dm.setup("fit")
    with pytest.raises(ConfigError, match="t10k-images-idx3-ubyte"):
        dm.setup("test")


def test_root_defaults_to_the_system_folder_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = write_idx_set(tmp_path / "usr-share")
    source = dataclasses.replace(FashionMnistDataModule.source, system_root=str(system))
    monkeypatch.setattr(FashionMnistDataModule, "source", source)
    assert build_datamodule({"name": "fashion_mnist"}).root == system  # type: ignore[attr-defined]
    missing = dataclasses.replace(source, system_root=str(tmp_path / "absent"))
    monkeypatch.setattr(FashionMnistDataModule, "source", missing)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"in data/fashion_mnist"):
        build_datamodule({"name": "fashion_mnist"})


def test_download_fetches_missing_files_with_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = write_idx_set(tmp_path / "server")
    payloads = {p.name: p.read_bytes() for p in served.iterdir()}
    # The published order (the last file fails its checksum).
    bad = "t10k-labels-idx1-ubyte.gz"
    order = FashionMnistDataModule.source.md5
    md5 = {name: hashlib.md5(payloads[name]).hexdigest() for name in order}
    md5[bad] = "0" * 32
    source = dataclasses.replace(FashionMnistDataModule.source, url="http://x/", md5=md5)
    monkeypatch.setattr(FashionMnistDataModule, "source", source)
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        requested.append(url)
        return io.BytesIO(payloads[url.rpartition("/")[2]])

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    root = tmp_path / "downloads"
    dm = _built("fashion_mnist", root, download=True)
    with pytest.raises(ConfigError, match="checksum") as info:
        dm.setup("fit")
    assert info.value.path == "data.root"
    # The three good files are in place; the bad one left nothing behind.
    assert sorted(os.listdir(root)) == sorted(n for n in payloads if n != bad)
    assert len(requested) == 4
    md5[bad] = hashlib.md5(payloads[bad]).hexdigest()
    requested.clear()
    dm = _built("fashion_mnist", root, download=True)
    dm.setup("fit")
    dm.setup("test")
    assert requested == [f"http://x/{bad}"]  # only what was missing
    assert len(dm.train_set) == 30 and len(dm.test_set) == IDX_TEST  # type: ignore[arg-type]


def test_read_idx_round_trips(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        assert np.array_equal(read_idx(write_idx(tmp_path / name, array), 3), array)
    with pytest.raises(ConfigError, match="1 dimension"):
        read_idx(tmp_path / "a.idx", 1)


def test_a_class_subset_is_relabelled_in_every_split(tmp_path: Path) -> None:
    dm = _built("fashion_mnist", write_idx_set(tmp_path / "idx"), classes=[7, 2],
                num_classes=2)
    dm.setup("fit")
    dm.setup("test")
    assert dm.class_names == ["Sneaker", "Pullover"]
    for split in (dm.train_set, dm.val_set):
        pixels = split.images[:, 0, 0, 0].long()  # type: ignore[union-attr]
        assert torch.equal(split.labels, (pixels % 10 == 2).long())  # type: ignore[union-attr]
    test_labels = dm.test_set.labels  # type: ignore[union-attr]
    assert sorted(test_labels.tolist()) == [0, 1]  # t10k images 2 and 7 of 12
    with pytest.raises(ConfigError, match=r"data.num_classes: got 10; expected 2"):
        _built("mnist", tmp_path / "idx", classes=[0, 1])
