"""Class-per-folder images: layouts, splits, unreadable files, errors, preprocessing."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image
from sample_data import write_image_folder

from archforge.data import DataWarning, ImageFolderDataModule, build_datamodule
from archforge.data.image_folder import IMAGENET_MEAN, IMAGENET_STD
from archforge.errors import ConfigError


def _dm(**cfg: object) -> ImageFolderDataModule:
    dm = build_datamodule({"name": "image_folder", "image_size": 16, "batch_size": 4, **cfg})
    assert isinstance(dm, ImageFolderDataModule)
    return dm


def _setup_quietly(dm: ImageFolderDataModule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        dm.setup("fit")


def test_root_split_skips_unreadable_files_with_a_warning(image_root: Path) -> None:
    dm = _dm(root=str(image_root), val_fraction=0.34)
    assert dm.class_names == ["cats", "dogs"]
    with pytest.warns(DataWarning) as record:
        dm.setup("fit")
    messages = [str(w.message) for w in record]
    assert any("broken.jpg" in m and "skipping unreadable image" in m for m in messages)
    assert any("notes.txt" in m for m in messages)
    assert not any(".DS_Store" in m for m in messages)  # hidden files are not candidates
    # 3 readable images per class; round(6 * 0.34) = 2 held out, one per class.
    assert len(dm.train_set) == 4 and len(dm.val_set) == 2  # type: ignore[arg-type]
    assert sorted(dm.val_set.targets) == [0, 1]  # type: ignore[union-attr]
    again = _dm(root=str(image_root), val_fraction=0.34)
    _setup_quietly(again)
    assert again.val_set.samples == dm.val_set.samples  # type: ignore[union-attr]


def test_separate_train_and_val_folders(tmp_path: Path) -> None:
    train = write_image_folder(tmp_path / "training_set", per_class=3, broken=False)
    val = write_image_folder(tmp_path / "test_set", per_class=2, broken=False)
    dm = _dm(train_dir=str(train), val_dir=str(val), channels=1, image_size=10)
    dm.setup("fit")
    assert len(dm.train_set) == 6 and len(dm.val_set) == 4  # type: ignore[arg-type]
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 1, 10, 10) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert dm.mean == (0.449,) and dm.std == (0.226,)


def test_batches_are_augmented_for_training_and_normalised(image_root: Path) -> None:
    dm = _dm(root=str(image_root), augment={"hflip": True, "shear": 15.0, "zoom": 0.3})
    _setup_quietly(dm)
    assert dm.mean == IMAGENET_MEAN and dm.std == IMAGENET_STD
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 16, 16) and torch.isfinite(images).all()
    val_images, val_labels = next(iter(dm.val_dataloader()))
    # A solid red cat: red channel (200/255 - 0.485) / 0.229 away from the white dot.
    cat = val_images[val_labels == 0][0]
    assert torch.isclose(cat[0].median(), torch.tensor((200 / 255 - 0.485) / 0.229), atol=1e-4)


def test_preprocess_equals_the_validation_batch(image_root: Path) -> None:
    dm = _dm(root=str(image_root), augment={"hflip": True, "shear": 10.0, "zoom": 0.2})
    _setup_quietly(dm)
    val_images, _ = next(iter(dm.val_dataloader()))
    first_path = dm.val_set.samples[0][0]  # type: ignore[union-attr]
    with Image.open(first_path) as image:
        tensor = dm.preprocess(image)
    assert tensor.shape == (3, 16, 16)
    assert torch.equal(tensor, val_images[0])


def test_a_file_failing_at_load_time_is_skipped_not_fatal(image_root: Path) -> None:
    dm = _dm(root=str(image_root), verify=False, in_memory=False)  # the streaming path
    dm.setup("fit")  # verify=False: nothing is checked up front
    dataset = dm.train_set
    bad_index = next(i for i, (p, _) in enumerate(dataset.samples) if p.name == "broken.jpg")  # type: ignore[union-attr]
    follower = dataset.samples[(bad_index + 1) % len(dataset)]  # type: ignore[union-attr, arg-type]
    with pytest.warns(DataWarning, match=r"broken\.jpg"):
        image, label = dataset[bad_index]  # type: ignore[index]
    assert image.shape == (3, 16, 16) and label == follower[1]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", DataWarning)
        for _epoch in range(2):
            batches = list(dm.train_dataloader())
    assert sum(len(y) for _, y in batches) == len(dataset)  # type: ignore[arg-type]
    # Each unreadable file is reported once (broken.jpg already was), however many epochs.
    unreadable = {p.name for p, _ in dataset.samples if p.suffix == ".txt"}  # type: ignore[union-attr]
    reported = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert len(reported) == len(unreadable)
    assert all(any(name in m for m in reported) for name in unreadable)


def test_class_count_mismatch_names_the_key_the_value_and_folders(image_root: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _dm(root=str(image_root), num_classes=3)
    assert info.value.path == "data.num_classes"
    assert "is 3" in str(info.value) and "2 class folders: cats, dogs" in str(info.value)


@pytest.mark.parametrize("key", ["root", "train_dir", "val_dir"])
def test_missing_folder_names_the_key_and_path(key: str, tmp_path: Path, image_root: Path) -> None:
    missing = str(tmp_path / "no_such_folder")
    cfg = {"root": missing} if key == "root" else {"train_dir": str(image_root), key: missing}
    with pytest.raises(ConfigError) as info:
        _dm(**cfg)
    assert info.value.path == f"data.{key}"
    assert "folder not found" in str(info.value) and "no_such_folder" in str(info.value)


def test_root_and_train_dir_are_exclusive(image_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"exactly one of data\.root"):
        _dm(root=str(image_root), train_dir=str(image_root))
    with pytest.raises(ConfigError, match=r"exactly one of data\.root"):
        _dm()


def test_val_folder_with_unknown_class_is_rejected(tmp_path: Path) -> None:
    train = write_image_folder(tmp_path / "train", broken=False)
    val = write_image_folder(tmp_path / "val", broken=False)
    (val / "birds").mkdir()
    with pytest.raises(ConfigError, match="birds") as info:
        _dm(train_dir=str(train), val_dir=str(val))
    assert info.value.path == "data.val_dir"


def test_folder_without_class_folders_or_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no class sub-folders") as info:
        _dm(root=str(tmp_path / "empty"), num_classes=2)
    assert info.value.path == "data.root"
    for name in ("a", "b"):
        (tmp_path / "junk" / name).mkdir(parents=True)
        (tmp_path / "junk" / name / "x.txt").write_text("no")
    dm = _dm(root=str(tmp_path / "junk"))
    with pytest.raises(ConfigError, match="no readable images"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        dm.setup("fit")


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_class_with_only_unreadable_images_is_refused(tmp_path: Path, in_memory: bool) -> None:
    root = write_image_folder(tmp_path / "pets", broken=False)
    for image in (root / "dogs").iterdir():  # every dog is corrupt
        image.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    dm = _dm(root=str(root), val_fraction=0.34, in_memory=in_memory)
    with pytest.raises(ConfigError) as info:
        _setup_quietly(dm)
    assert info.value.path == "data.root"
    text = str(info.value)
    assert str(root / "dogs") in text and "no readable training images" in text
