"""scikit-learn's bundled 8x8 handwritten digits: archforge's embedded default data.

1,797 grayscale images, values 0..16 (bright ink on a dark background), 10 classes,
shipped inside scikit-learn, so training works with no download and no set-up. The whole
set lives in memory as tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from archforge.data.base import DataConfig, ImageDataModule
from archforge.data.registry import DATASETS
from archforge.data.split import check_classes, check_fraction, keep_classes, stratified_split
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import AugmentConfig
from archforge.typed import require

NATIVE_SIZE = 8
MAX_VALUE = 16.0  # the digits' pixel range is 0..16


@dataclass
class DigitsConfig(DataConfig):
    name: str = "digits"
    num_classes: int = 10
    channels: int = 1
    image_size: int = NATIVE_SIZE  # larger values upsample once, in memory
    batch_size: int = 64
    val_fraction: float = 0.2
    # Whole-set pixel statistics after scaling to [0, 1].
    mean: tuple[float, ...] | None = (0.3053,)
    std: tuple[float, ...] | None = (0.3760,)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # A subset of the digits, relabelled 0..k-1 in the order given (transfer experiments:
    # pretrain on 0-4, fine-tune on 5-9); null keeps all ten.
    classes: list[int] | None = None

    def check(self, path: str = "data") -> None:
        super().check(path)
        if self.classes is not None:
            check_classes(self.classes, f"{path}.classes")
        wanted = len(self.classes) if self.classes is not None else 10
        require(
            self.num_classes == wanted,
            f"{path}.num_classes",
            self.num_classes,
            f"{wanted} (digits)" if self.classes is None
            else f"{wanted}, one per entry of {path}.classes={self.classes}",
        )
        require(self.channels == 1, f"{path}.channels", self.channels, "1 (grayscale digits)")
        require(
            self.image_size >= NATIVE_SIZE,
            f"{path}.image_size",
            self.image_size,
            f">= {NATIVE_SIZE} (the digits are {NATIVE_SIZE}x{NATIVE_SIZE})",
        )
        check_fraction(self.val_fraction, f"{path}.val_fraction")


@DATASETS.register("digits")
class DigitsDataModule(ImageDataModule):
    """The digits with a seeded, stratified train/val split (default 1,438 / 359)."""

    config_class = DigitsConfig
    config: DigitsConfig

    def __init__(self, config: DigitsConfig, class_names: list[str] | None = None) -> None:
        # A subset keeps the digits' real names: label 0 of classes [5, 6] predicts "5".
        if class_names is None and config.classes is not None:
            class_names = [str(c) for c in config.classes]
        super().__init__(config, class_names)

    def build_datasets(self) -> tuple[TensorImageDataset, TensorImageDataset]:
        from sklearn.datasets import load_digits  # imported here: sklearn adds ~1 s at start-up

        digits = load_digits()
        images = torch.from_numpy(digits.images.astype(np.float32) / MAX_VALUE).unsqueeze(1)
        if self.image_size != NATIVE_SIZE:
            images = F.interpolate(
                images, size=(self.image_size,) * 2, mode="bilinear", align_corners=False
            ).clamp_(0.0, 1.0)
        target = digits.target.astype(np.int64)
        if self.config.classes is not None:
            keep, target = keep_classes(target, self.config.classes)
            images = images[torch.from_numpy(keep)]
        labels = torch.from_numpy(target)
        train, val = stratified_split(target, self.config.val_fraction, self.config.seed)
        train_idx, val_idx = torch.from_numpy(train), torch.from_numpy(val)
        return (
            TensorImageDataset(images[train_idx].contiguous(), labels[train_idx]),
            TensorImageDataset(images[val_idx].contiguous(), labels[val_idx]),
        )
