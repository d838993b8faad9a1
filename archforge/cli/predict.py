"""`archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER [top_k=1]`."""

from __future__ import annotations

import sys
from pathlib import Path

from archforge.cli.command_args import parse_key_values
from archforge.errors import ConfigError

KEYS = {"checkpoint": Path, "input": Path, "top_k": int}


def predict(args: list[str]) -> int:
    """archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER [top_k=1]

    Classify an image, or every image in a folder, with a trained checkpoint: each line
    names a file and its top_k most probable classes with their probabilities."""
    from PIL import Image

    from archforge.predict import Predictor, image_paths

    opts = parse_key_values(args, KEYS, "predict", required=("checkpoint", "input"))
    top_k = opts.get("top_k", 1)
    if top_k < 1:
        raise ConfigError("top_k", f"got {top_k}; expected an integer >= 1")
    paths = image_paths(opts["input"])  # before loading: a typo fails fast
    predictor = Predictor.from_checkpoint(opts["checkpoint"])
    for path in paths:
        try:
            ranked = predictor.predict_file(path, top_k)
        except (OSError, Image.DecompressionBombError) as exc:
            print(f"{path}: skipped ({exc})", file=sys.stderr)
            continue
        shown = ", ".join(f"{label} ({prob:.3f})" for label, prob in ranked)
        print(f"{path}: {shown}")
    return 0
