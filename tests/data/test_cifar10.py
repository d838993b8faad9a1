"""CIFAR-10 from a small archive in the official format: folder, .tar.gz, download."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from sample_data import CIFAR_TEST, CIFAR_TRAIN_PER_BATCH

from archforge.data import Cifar10DataModule, build_datamodule, download
from archforge.data import cifar10 as cifar
from archforge.errors import ConfigError


def _built(root: Path, **overrides: object) -> Cifar10DataModule:
    dm = build_datamodule({"name": "cifar10", "root": str(root), **overrides})
    assert isinstance(dm, Cifar10DataModule)
    dm.setup("fit")
    return dm


def _check_contents(dm: Cifar10DataModule) -> None:
    train, val = dm.train_set, dm.val_set
    assert len(train) == 5 * CIFAR_TRAIN_PER_BATCH and len(val) == CIFAR_TEST  # type: ignore[arg-type]
    images = train.images  # type: ignore[union-attr]
    assert images.shape == (20, 3, 32, 32) and images.dtype == torch.uint8
    # Image i, channel c holds (i + 10c) % 256: rows are channel planes, batches in order.
    for i in (0, 5, 19):
        for c in range(3):
            assert torch.all(images[i, c] == (i + 10 * c) % 256)
    assert train.labels.tolist() == [i % 10 for i in range(20)]  # type: ignore[union-attr]
    assert dm.class_names[:2] == ["plane", "car"]  # read from batches.meta


@pytest.mark.parametrize("which", ["batches_folder", "parent_folder", "archive", "archive_dir"])
def test_reads_every_root_layout(which: str, cifar_folder: Path, cifar_archive: Path) -> None:
    root = {
        "batches_folder": cifar_folder,
        "parent_folder": cifar_folder.parent,
        "archive": cifar_archive,
        "archive_dir": cifar_archive.parent,  # holds cifar-10-python.tar.gz
    }[which]
    if which == "archive_dir":
        # Only the archive, so the folder cannot be what is read.
        for f in cifar_folder.iterdir():
            f.unlink()
    _check_contents(_built(root))


def test_val_is_normalised_and_train_is_cropped_and_flipped(cifar_folder: Path) -> None:
    dm = _built(cifar_folder, batch_size=CIFAR_TEST)
    val_x, val_y = next(iter(dm.val_dataloader()))
    raw = dm.val_set.images.float() / 255  # type: ignore[union-attr]
    mean = torch.tensor(dm.mean).view(1, 3, 1, 1)
    std = torch.tensor(dm.std).view(1, 3, 1, 1)
    assert torch.allclose(val_x, (raw - mean) / std, atol=1e-6)
    assert val_y.dtype == torch.int64
    # Training images are uniform per channel, so cropping shows up only as zero padding.
    torch.manual_seed(0)
    train_x = torch.cat([x for x, _ in dm.train_dataloader()])
    padded_value = (0 - mean) / std
    padded = torch.isclose(train_x, padded_value.expand_as(train_x), atol=1e-5)
    assert padded.any() and not padded.all()


def test_missing_data_without_download_names_root_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "cifar10", "root": str(tmp_path / "nowhere")})
    assert info.value.path == "data.root"
    message = str(info.value)
    assert "nowhere" in message and cifar.URL in message and "data.download=true" in message


def _serve(monkeypatch: pytest.MonkeyPatch, payload: bytes | Exception) -> list[str]:
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        requested.append(url)
        if isinstance(payload, Exception):
            raise payload
        return io.BytesIO(payload)

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    return requested


def test_download_verifies_checksum_then_reads(
    tmp_path: Path, cifar_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = cifar_archive.read_bytes()
    monkeypatch.setattr(cifar, "MD5", hashlib.md5(payload).hexdigest())
    requested = _serve(monkeypatch, payload)
    root = tmp_path / "downloads"
    dm = _built(root, download=True)
    assert requested == [cifar.URL]
    assert sorted(os.listdir(root)) == ["cifar-10-python.tar.gz"]  # no temporary left
    _check_contents(dm)


def test_checksum_mismatch_leaves_nothing_that_looks_valid(
    tmp_path: Path, cifar_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(monkeypatch, cifar_archive.read_bytes())  # the real MD5 will not match it
    root = tmp_path / "downloads"
    dm = build_datamodule({"name": "cifar10", "root": str(root), "download": True})
    with pytest.raises(ConfigError) as info:
        dm.prepare_data()
    assert info.value.path == "data.root"
    assert "checksum" in str(info.value) and cifar.MD5 in str(info.value)
    assert os.listdir(root) == []


def test_no_network_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, URLError("no route to host"))
    dm = build_datamodule({"name": "cifar10", "root": str(tmp_path / "c"), "download": True})
    with pytest.raises(ConfigError, match=r"could not download.*no route to host") as info:
        dm.setup("fit")
    assert info.value.path == "data.root"
    assert os.listdir(tmp_path / "c") == []


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_pickles_with_foreign_globals_are_refused(cifar_folder: Path) -> None:
    (cifar_folder / "data_batch_3").write_bytes(pickle.dumps({b"data": _Exploit()}))
    with pytest.raises(ConfigError, match=r"data_batch_3.*refusing to load"):
        _built(cifar_folder)


def test_corrupt_archive_and_missing_batches_name_the_file(
    tmp_path: Path, cifar_folder: Path
) -> None:
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match=r"not a readable \.tar\.gz"):
        _built(bad)
    (cifar_folder / "test_batch").unlink()
    with pytest.raises(ConfigError, match="lacks test_batch"):
        _built(cifar_folder)


def test_image_size_other_than_32_is_rejected(cifar_folder: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_datamodule({"name": "cifar10", "root": str(cifar_folder), "image_size": 64})
    assert info.value.path == "data.image_size"


def test_batches_pickled_by_old_numpy_load(cifar_folder: Path) -> None:
    """The official files name `numpy.core.multiarray`, which numpy 2 renamed."""
    path = cifar_folder / "data_batch_1"
    old = path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old
    path.write_bytes(old)
    _check_contents(_built(cifar_folder))
