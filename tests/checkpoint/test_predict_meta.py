"""predict reads a checkpoint's stored data config as plain data and trusts no free-form
metadata for sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import tiny_net, write_checkpoint
from PIL import Image

from archforge.predict import Predictor

SECRET = "ARCHFORGE_TEST_SECRET"


def test_interpolation_in_stored_data_config_is_not_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "8")  # a valid image size, were it ever read
    data = {"name": "synthetic", "channels": 1, "num_classes": 3,
            "image_size": "${oc.env:" + SECRET + "}"}
    path = write_checkpoint(
        tmp_path / "best.ckpt", tiny_net(), config={"data": data}, image_size=10**9,
        channels=1, mean=[0.5], std=[0.25],
    )
    predictor = Predictor.from_checkpoint(path)
    image = Image.fromarray(np.full((20, 30), 255, dtype=np.uint8))
    x = predictor.preprocess(image)  # the stored-statistics path, sized by the model config
    assert tuple(x.shape) == (1, 8, 8)
    assert float(x.max()) == pytest.approx((1.0 - 0.5) / 0.25)
    ranked = predictor.predict_file(_save(image, tmp_path), top_k=3)
    assert sorted(label for label, _ in ranked) == ["a", "b", "c"]


def _save(image: Image.Image, folder: Path) -> Path:
    path = folder / "white.png"
    image.save(path)
    return path
