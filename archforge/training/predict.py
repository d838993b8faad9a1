"""Classify image files with a trained checkpoint (the seeds' final step: load an image,
resize it like the training data, print the predicted class)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archforge.api import resolve
from archforge.errors import CheckpointError, ConfigError
from archforge.model.builder import build_network
from archforge.model.network import Network
from archforge.model.weights import load_weights, read_checkpoint
from archforge.training.module import META_KEY

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def image_paths(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise ConfigError("input", f"no image files in folder {path}")
        return found
    if not path.is_file():
        raise ConfigError("input", f"file or folder not found: {path}")
    return [path]


def load_network(checkpoint: str | Path) -> tuple[Network, dict[str, Any]]:
    """Rebuild the network a checkpoint was trained with and load its weights (eval mode)."""
    data = read_checkpoint(checkpoint, "checkpoint")
    meta = data.get(META_KEY)
    if not isinstance(meta, dict) or "model" not in meta:
        raise CheckpointError(
            f"checkpoint: {checkpoint} was not written by `archforge train` (no model config); "
            "build the model in Python and use archforge.load_weights"
        )
    model_cfg = resolve(dict(meta["model"], weights=None))
    net = build_network(model_cfg)
    load_weights(net, data, key="checkpoint")
    return net.eval(), meta


def _fallback_preprocess(meta: dict[str, Any]) -> Callable[[Any], torch.Tensor]:
    """Resize + scale to [0, 1] + normalise with the stored statistics (no data module)."""
    import numpy as np

    channels = int(meta.get("channels", 3))
    size = meta.get("image_size", 224)
    h, w = (size, size) if isinstance(size, int) else (size[0], size[-1])
    mean = torch.tensor(meta.get("mean", [0.0] * channels)).view(-1, 1, 1)
    std = torch.tensor(meta.get("std", [1.0] * channels)).view(-1, 1, 1)

    def run(image: Any) -> torch.Tensor:
        image = image.convert("L" if channels == 1 else "RGB").resize((w, h))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)
        return (x - mean) / std

    return run


@dataclass
class Predictor:
    net: nn.Module
    class_names: list[str]
    preprocess: Callable[[Any], torch.Tensor]

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path) -> Predictor:
        net, meta = load_network(checkpoint)
        names = list(meta.get("class_names") or [])
        if len(names) != net.config.num_classes:
            names = [str(i) for i in range(net.config.num_classes)]
        return cls(net, names, _data_preprocess(meta) or _fallback_preprocess(meta))

    @torch.no_grad()
    def predict_tensor(self, x: torch.Tensor, top_k: int = 1) -> list[list[tuple[str, float]]]:
        probs = torch.softmax(self.net(x), dim=1)
        values, indices = probs.topk(min(top_k, probs.shape[1]), dim=1)
        return [
            [(self.class_names[i], float(v)) for v, i in zip(vs, ix, strict=True)]
            for vs, ix in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    def predict_file(self, path: Path, top_k: int = 1) -> Sequence[tuple[str, float]]:
        from PIL import Image

        with Image.open(path) as image:
            x = self.preprocess(image)
        return self.predict_tensor(x.unsqueeze(0), top_k)[0]


def _data_preprocess(meta: dict[str, Any]) -> Callable[[Any], torch.Tensor] | None:
    """The training data module's own `preprocess` (same resize and normalisation as
    validation), when its config can be rebuilt here."""
    data_cfg = (meta.get("config") or {}).get("data")
    if not data_cfg:
        return None
    try:
        from omegaconf import OmegaConf

        from archforge.data import build_datamodule

        return build_datamodule(OmegaConf.create(data_cfg)).preprocess
    except Exception as exc:  # the data may live elsewhere now; stored statistics suffice
        log.info("using stored normalisation (%s)", exc)
        return None
