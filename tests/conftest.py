"""Shared test set-up: plugins loaded once, small thread count (CI has 2 cores)."""

from __future__ import annotations

import pytest
import torch

import archforge


@pytest.fixture(autouse=True, scope="session")
def _plugins() -> None:
    torch.set_num_threads(1)
    archforge.load_plugins()
