"""Deterministic random images of any shape and class count, for tests and benchmarks.

Each class has a smooth random template; a sample is its class template plus pixel noise,
quantised to uint8 like real photos so the batches take the same scale-and-normalise path.
The data is therefore learnable (a small CNN separates the classes) but free to make.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from archforge.data.base import DataConfig, ImageDataModule
from archforge.data.registry import DATASETS
from archforge.data.split import check_fraction, stratified_split
from archforge.data.tensors import TensorImageDataset
from archforge.data.transforms import AugmentConfig
from archforge.limits import config_limits, raise_hint
from archforge.typed import require

_CHUNK = 4096  # samples generated at a time, bounding the float32 scratch memory
_CONTRAST = 0.15  # pixel = 0.5 + _CONTRAST * (signal * template + noise), then clipped


@dataclass
class SyntheticConfig(DataConfig):
    name: str = "synthetic"
    num_samples: int = 1024  # train + val
    val_fraction: float = 0.2
    signal: float = 1.0  # template strength relative to unit noise; 0 makes labels random
    batch_size: int = 128
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def check(self, path: str = "data") -> None:
        super().check(path)
        require(
            self.num_samples >= 2 * self.num_classes,
            f"{path}.num_samples",
            self.num_samples,
            f"at least 2 per class (2 x data.num_classes = {2 * self.num_classes})",
        )
        # generated up front as one uint8 tensor: refuse what cannot fit before generating
        limit = config_limits().max_data_mb
        mb = self.num_samples * self.channels * self.image_size**2 / 2**20
        require(mb <= limit, f"{path}.num_samples", self.num_samples,
                f"a count whose images fit in {limit:,} MB (these need {mb:,.0f} MB; "
                f"{raise_hint('max_data_mb')})")
        require(self.signal >= 0, f"{path}.signal", self.signal, ">= 0")
        check_fraction(self.val_fraction, f"{path}.val_fraction")


@DATASETS.register("synthetic")
class SyntheticDataModule(ImageDataModule):
    """Synthetic classification data; same `seed`, same images and labels."""

    config_class = SyntheticConfig
    config: SyntheticConfig
    # The generator's own statistics at signal=1: 0.5 + 0.15 * N(0, 2) before clipping.
    default_mean = 0.5
    default_std = 0.21

    def build_datasets(self) -> tuple[TensorImageDataset, TensorImageDataset]:
        images, labels = self.generate()
        train, val = stratified_split(labels.numpy(), self.config.val_fraction, self.config.seed)
        train_idx, val_idx = torch.from_numpy(train), torch.from_numpy(val)
        return (
            TensorImageDataset(images[train_idx], labels[train_idx]),
            TensorImageDataset(images[val_idx], labels[val_idx]),
        )

    def generate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images (N, C, H, W uint8) and labels (N, int64), from `seed` alone."""
        cfg = self.config
        n, c, size, k = cfg.num_samples, cfg.channels, cfg.image_size, cfg.num_classes
        gen = torch.Generator().manual_seed(cfg.seed)
        # Balanced classes in a seeded order.
        labels = (torch.arange(n) % k)[torch.randperm(n, generator=gen)]
        # Low-frequency templates (4x4 upsampled) survive pooling and striding, so shallow
        # and deep networks alike can pick them up.
        coarse = torch.randn(k, c, 4, 4, generator=gen)
        templates = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        templates = templates / templates.flatten(1).std(dim=1).clamp_min(1e-6)[:, None, None, None]
        images = torch.empty(n, c, size, size, dtype=torch.uint8)
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            noise = torch.randn(stop - start, c, size, size, generator=gen)
            pixels = 0.5 + _CONTRAST * (cfg.signal * templates[labels[start:stop]] + noise)
            images[start:stop] = (pixels.clamp_(0.0, 1.0) * 255.0).round_().to(torch.uint8)
        return images, labels
