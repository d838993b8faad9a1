"""Classify image files with a trained checkpoint: load an image, resize and normalise it
like the training data, print the most probable classes.

An edge module: it uses `archforge.checkpoint` and the data package; nothing imports it
but the command line (archforge/cli/predict.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archforge.checkpoint import load_network
from archforge.data.folder_stats import list_files
from archforge.data.image_files import kind_of, open_image
from archforge.errors import ConfigError
from archforge.model.network import Network

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def image_paths(path: Path) -> list[Path]:
    """The image files `input` names: the file itself, or a folder's regular files with an
    image suffix (a FIFO or device named `x.png` is skipped with a warning, never opened)."""
    if path.is_dir():
        found = sorted(p for p in list_files(path) if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise ConfigError("input", f"no image files in folder {path}")
        return found
    if not path.exists():
        raise ConfigError("input", f"file or folder not found: {path}")
    if not path.is_file():
        raise ConfigError("input", f"{path} is a {kind_of(path.stat().st_mode)}, not an image "
                          "file; reading it could block forever")
    return [path]


def _statistics(value: Any, channels: int, default: float) -> torch.Tensor:
    """Stored per-channel mean/std, or `default` where the file holds none (or nonsense:
    a std of 0 would divide by zero)."""
    ok = (
        isinstance(value, list)
        and len(value) == channels
        and all(isinstance(v, int | float) and math.isfinite(v) for v in value)
        and (default == 0.0 or all(v > 0 for v in value))
    )
    values = value if ok else [default] * channels
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1)


def _fallback_preprocess(net: Network, meta: dict[str, Any]) -> Callable[[Any], torch.Tensor]:
    """Resize + scale to [0, 1] + normalise with the stored statistics (no data module).
    Size and channels come from the validated model config, never from free-form metadata."""
    import numpy as np

    channels = net.config.in_channels
    h, w = net.config.spatial_size
    mean = _statistics(meta.get("mean"), channels, 0.0)
    std = _statistics(meta.get("std"), channels, 1.0)
    if channels not in (1, 3):
        raise ConfigError("checkpoint", f"predict reads 1- or 3-channel images; the model "
                          f"takes {channels} channels")

    def run(image: Any) -> torch.Tensor:
        image = image.convert("L" if channels == 1 else "RGB").resize((w, h))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)
        return (x - mean) / std

    return run


def _data_preprocess(net: Network, meta: dict[str, Any]) -> Callable[[Any], torch.Tensor] | None:
    """The training data module's own `preprocess` (same resize and normalisation as
    validation), when its stored config still builds here and agrees with the network. The
    stored config is passed as plain data: no interpolation is resolved."""
    config = meta.get("config")
    data_cfg = config.get("data") if isinstance(config, dict) else None
    if not isinstance(data_cfg, dict) or not data_cfg:
        return None
    from archforge.data import build_datamodule
    from archforge.data.stored_folders import check_stored_folders

    try:
        check_stored_folders(data_cfg, ())  # a crafted checkpoint cannot make it walk /
        data = build_datamodule(data_cfg)
    except (ConfigError, OSError, ValueError, TypeError, KeyError) as exc:
        # The data may live elsewhere now; the stored statistics suffice.
        log.info("using stored normalisation (%s)", exc)
        return None
    size = (data.image_size, data.image_size)
    if data.channels != net.config.in_channels or size != net.config.spatial_size:
        log.info("stored data config does not match the model; using stored normalisation")
        return None
    return data.preprocess


@dataclass
class Predictor:
    net: nn.Module
    class_names: list[str]
    preprocess: Callable[[Any], torch.Tensor]

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path) -> Predictor:
        net, meta = load_network(checkpoint)
        names = meta.get("class_names")
        num_classes = net.config.num_classes
        if not isinstance(names, list) or len(names) != num_classes:
            names = [str(i) for i in range(num_classes)]
        preprocess = _data_preprocess(net, meta) or _fallback_preprocess(net, meta)
        return cls(net, [str(n) for n in names], preprocess)

    @torch.no_grad()
    def predict_tensor(self, x: torch.Tensor, top_k: int = 1) -> list[list[tuple[str, float]]]:
        probs = torch.softmax(self.net(x), dim=1)
        values, indices = probs.topk(min(top_k, probs.shape[1]), dim=1)
        return [
            [(self.class_names[i], float(v)) for v, i in zip(vs, ix, strict=True)]
            for vs, ix in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    def predict_file(self, path: Path, top_k: int = 1) -> Sequence[tuple[str, float]]:
        with open_image(path) as image:
            x = self.preprocess(image)
        return self.predict_tensor(x.unsqueeze(0), top_k)[0]
