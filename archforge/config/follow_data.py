"""The model follows the data: keys the data leaves null are read from the data itself, and
the model keys linked to them (`in_channels`, `num_classes`, `input_size`) take the values.

conf/config.yaml links `model.in_channels: ${data.channels}` and so on; an image folder's
`channels: null` ("read from the images") resolves those links to null too. `follow_data`
fills both, once, on the resolved config: `train`, `search` and `summary` build the same
network from the same folder, and the run's config.yaml records the values that were used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# model key -> the data key it follows
MODEL_DATA_LINKS = {"in_channels": "channels", "num_classes": "num_classes",
                    "input_size": "image_size"}


def follow_data(resolved: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(`resolved` with the data's unset keys read from the data and the model's unset
    linked keys taken from the data, the lines saying what was read)."""
    out = dict(resolved)
    data = out.get("data")
    if not isinstance(data, Mapping):
        return out, []
    from archforge.data.build import data_kind

    filled, lines = data_kind(data).read_unset(data, "data")
    out["data"] = filled
    model = out.get("model")
    if isinstance(model, Mapping) and model.get("weights") and data.get("channels") is None \
            and filled.get("channels") == 1 and model.get("in_channels") is None:
        lines.append("note: model.weights trained on colour images (ImageNet) need "
                     "data.channels=3; Pillow converts the grey images")
    if isinstance(model, Mapping):
        out["model"] = {**model, **{key: filled[link] for key, link in MODEL_DATA_LINKS.items()
                                    if model.get(key) is None and filled.get(link) is not None}}
    return out, lines
