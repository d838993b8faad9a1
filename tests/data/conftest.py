"""Fixtures: small on-disk datasets generated in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_data import write_cifar_archive, write_cifar_folder, write_image_folder


@pytest.fixture
def cifar_folder(tmp_path: Path) -> Path:
    return write_cifar_folder(tmp_path / "extracted")


@pytest.fixture
def cifar_archive(tmp_path: Path, cifar_folder: Path) -> Path:
    return write_cifar_archive(cifar_folder, tmp_path / "cifar-10-python.tar.gz")


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "images")
