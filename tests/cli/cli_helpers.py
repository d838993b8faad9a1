"""Tiny `archforge train` arguments for the CLI tests: synthetic 1x8x8 data, one epoch."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
TINY_ARGS = [
    f"model={HERE / 'tiny.yaml'}",
    "data=synthetic",
    "data.channels=1",
    "data.image_size=8",
    "data.num_classes=3",
    "data.num_samples=48",
    "data.batch_size=16",
    "trainer.max_epochs=1",
    "progress=false",
]
