"""Dataset kinds by the short name `data.name` uses (digits, synthetic, cifar10, ...).

A third-party package adds a kind the same way archforge does: subclass `ImageDataModule`
and decorate it with `@DATASETS.register("my_kind")` in a module its entry point imports.
"""

from __future__ import annotations

from archforge.data.base import ImageDataModule
from archforge.model.registry import Registry

DATASETS: Registry[type[ImageDataModule]] = Registry("dataset")
