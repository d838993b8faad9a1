"""Pillow images to uint8 tensors: the one decode-and-resize path for files and `predict`.

Validation batches and `ImageDataModule.preprocess` both go through `image_to_tensor`, so a
single image is prepared exactly as the validation data the model was measured on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from archforge.data.image_files import open_image
from archforge.errors import ConfigError

MODES = {1: "L", 3: "RGB"}


def pil_mode(channels: int) -> str:
    """Pillow mode for a channel count (1: grayscale "L", 3: "RGB")."""
    mode = MODES.get(channels)
    if mode is None:
        raise ConfigError(
            "data.channels", f"got {channels}; images can be decoded only with 1 or 3 channels"
        )
    return mode


def image_to_tensor(image: Image.Image, channels: int, size: int) -> torch.Tensor:
    """A (channels, size, size) uint8 tensor: EXIF-rotated, converted, resized (bilinear).

    The image is stretched to a square without cropping, as Keras' `flow_from_directory`
    (Keras' `flow_from_directory`) does with `target_size`.
    """
    # Phone photos store their rotation in EXIF; without this they train sideways.
    image = ImageOps.exif_transpose(image)
    image = image.convert(pil_mode(channels))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def load_image(path: str | Path, channels: int, size: int) -> torch.Tensor:
    """Decode an image file with `image_to_tensor`; raises whatever Pillow raises (and
    NotRegularFile, an OSError, for a FIFO, device or socket: never blocks on one)."""
    with open_image(path) as image:
        return image_to_tensor(image, channels, size)


def verify_image(path: str | Path) -> str | None:
    """None when Pillow can identify and verify the file, else the reason it cannot.

    `verify()` checks structure (PNG chunk CRCs, headers) without decoding every pixel, so a
    whole folder is checked quickly; a file that is truncated in a way `verify()` misses is
    still caught at load time by the dataset.
    """
    try:
        with open_image(path) as image:
            image.verify()
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError...)
        return f"{type(exc).__name__}: {exc}"
    return None
