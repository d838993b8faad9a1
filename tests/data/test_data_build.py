"""build_datamodule: every conf/data YAML builds; bad configs name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning import LightningDataModule
from omegaconf import OmegaConf
from sample_data import (
    write_cifar_archive,
    write_cifar_folder,
    write_idx_set,
    write_image_folder,
)

from archforge.config.compose import compose, conf_dir
from archforge.data import DATASETS, ImageDataModule, build_datamodule
from archforge.data.base import HPARAMS_KEY
from archforge.errors import ConfigError

REQUIRED = ("name", "num_classes", "channels", "image_size", "batch_size", "num_workers", "seed")


def _paths(name: str, tmp_path: Path) -> dict[str, str]:
    """The path overrides a YAML needs to build here (its defaults point at user data)."""
    if name == "cifar10":
        archive = tmp_path / "cifar-10-python.tar.gz"
        write_cifar_archive(write_cifar_folder(tmp_path / "x"), archive)
        return {"root": str(archive)}
    if name == "image_folder":
        return {"root": str(write_image_folder(tmp_path / "images", broken=False))}
    if name in ("mnist", "fashion_mnist"):
        return {"root": str(write_idx_set(tmp_path / "idx"))}
    return {}


@pytest.mark.parametrize(
    "name", ["digits", "synthetic", "cifar10", "image_folder", "mnist", "fashion_mnist"]
)
def test_every_data_yaml_composes_and_builds(name: str, tmp_path: Path) -> None:
    overrides = [f"++data.{k}={v}" for k, v in _paths(name, tmp_path).items()]
    cfg = compose([f"data={name}", *overrides], config_name="build")
    for key in REQUIRED:
        assert key in cfg.data, f"conf/data/{name}.yaml lacks {key}"
    assert cfg.data.name == name and cfg.data.num_workers == 0
    dm = build_datamodule(cfg.data)
    assert isinstance(dm, ImageDataModule) and isinstance(dm, LightningDataModule)
    stated = (cfg.data.num_classes, cfg.data.channels, cfg.data.image_size)
    if name == "image_folder":  # null: read from the folder (2 classes of 20x12 colour)
        assert stated == (None, None, None)
        stated = (2, 3, 20)
    assert (dm.num_classes, dm.channels, dm.image_size) == stated
    assert len(dm.class_names) == dm.num_classes
    assert len(dm.mean) == len(dm.std) == dm.channels


def test_the_yaml_files_and_the_registry_agree() -> None:
    yamls = sorted(p.stem for p in (conf_dir() / "data").glob("*.yaml"))
    assert yamls == DATASETS.names()
    assert yamls == ["cifar10", "digits", "fashion_mnist", "image_folder", "mnist", "synthetic"]


def test_a_dictconfig_with_interpolations_is_resolved() -> None:
    cfg = OmegaConf.create({"bs": 32, "data": {"name": "digits", "batch_size": "${bs}"}})
    dm = build_datamodule(cfg.data)
    assert dm.config.batch_size == 32
    images, _ = next(iter(dm.val_dataloader()))  # loaders set up on demand
    assert images.shape[0] == 32


def test_unknown_name_lists_the_kinds() -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "digit"})
    assert info.value.path == "data.name"
    assert "known: cifar10, digits, fashion_mnist, image_folder, mnist, synthetic" in str(
        info.value
    )
    assert "did you mean 'digits'" in str(info.value)


def test_missing_name_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.name"):
        build_datamodule({"batch_size": 4})


@pytest.mark.parametrize(
    ("overrides", "key", "text"),
    [
        ({"batchsize": 8}, "data.batchsize", "did you mean 'batch_size'"),
        ({"batch_size": "big"}, "data.batch_size", "expected an integer"),
        ({"batch_size": 0}, "data.batch_size", "at least 1"),
        ({"mean": [0.1, 0.2]}, "data.mean", "1 values"),
        ({"std": [0.0]}, "data.std", "positive"),
        ({"augment": {"flip": True}}, "data.augment.flip", "did you mean 'hflip'"),
    ],
)
def test_bad_keys_and_values_name_the_key(
    overrides: dict[str, object], key: str, text: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "digits", **overrides})
    assert info.value.path == key
    assert text in str(info.value)


def test_hyperparameters_record_what_predict_needs() -> None:
    dm = build_datamodule({"name": "synthetic", "channels": 1, "num_classes": 3})
    saved = dm.hparams[HPARAMS_KEY]
    assert list(dm.hparams) == [HPARAMS_KEY]  # nothing to clash with a model's hparams
    assert saved["mean"] == [0.5] and saved["std"] == [0.21]
    assert saved["class_names"] == ["0", "1", "2"]
    assert (saved["image_size"], saved["channels"], saved["name"]) == (32, 1, "synthetic")
