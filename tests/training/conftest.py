"""Fixtures for the training tests; the tiny configs live in train_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig
from train_helpers import tiny_overrides

from archforge.config.compose import compose


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    return compose(tiny_overrides(tmp_path))
