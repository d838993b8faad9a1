"""Tiny training configs: synthetic 1x8x8 data, a two-stage net, two short epochs.

A uniquely named module (not conftest.py): `from conftest import ...` resolves to whichever
test folder's conftest was imported first, which depends on the collection order.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
TINY = [
    f"model={HERE / 'tiny.yaml'}",
    "data=synthetic",
    "data.channels=1",
    "data.image_size=8",
    "data.num_classes=4",
    "data.num_samples=160",
    "data.batch_size=32",
    "trainer.max_epochs=2",
    "progress=false",
]


def tiny_overrides(tmp_path: Path, *extra: str) -> list[str]:
    return [*TINY, f"run_dir={tmp_path / 'run'}", *extra]
