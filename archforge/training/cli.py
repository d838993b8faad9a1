"""`archforge train | predict | export`: Hydra-style `key=value` overrides in, one result out.

User errors (ConfigError, CheckpointError) propagate to archforge.cli, which prints them as
one line and exits with status 2.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from archforge.config.compose import compose
from archforge.errors import ConfigError


def _split(args: list[str], own: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Pull `key=value` pairs for this command's own keys; the rest are config overrides."""
    mine: dict[str, str] = {}
    rest: list[str] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key in own:
            mine[key] = value
        else:
            rest.append(arg)
    return mine, rest


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def train(args: list[str]) -> int:
    """archforge train [overrides]: fit, then print validation metrics and checkpoints."""
    from archforge.training.fit import train as fit

    _setup_logging()
    cfg = compose(args)
    result = fit(cfg)
    if _rank() != 0:
        return 0
    print(f"run directory: {result.run_dir}")
    for key, value in sorted(result.metrics.items()):
        shown = f"{100 * value:.2f}%" if "acc" in key else f"{value:.4f}"
        print(f"{key}: {shown}")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"last checkpoint: {result.last_checkpoint}")
    return 0


def _rank() -> int:
    # DDP children re-run this command: only the global-zero process reports.
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)


def predict(args: list[str]) -> int:
    """archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER [top_k=1]"""
    from archforge.training.predict import Predictor, image_paths

    own, rest = _split(args, ("checkpoint", "input", "top_k"))
    if rest:
        raise ConfigError(rest[0], "predict takes checkpoint=PATH input=PATH [top_k=N]")
    if "checkpoint" not in own:
        raise ConfigError("checkpoint", "missing; archforge predict checkpoint=PATH input=PATH")
    if "input" not in own:
        raise ConfigError("input", "missing; an image file or a folder of images")
    predictor = Predictor.from_checkpoint(own["checkpoint"])
    top_k = int(own.get("top_k", "1"))
    paths = image_paths(Path(own["input"]))
    for path in paths:
        try:
            ranked = predictor.predict_file(path, top_k)
        except OSError as exc:
            print(f"{path}: skipped ({exc})", file=sys.stderr)
            continue
        shown = ", ".join(f"{label} ({prob:.3f})" for label, prob in ranked)
        print(f"{path}: {shown}")
    return 0


def export(args: list[str]) -> int:
    """archforge export checkpoint=PATH [format=onnx|torchscript|both] [output=DIR]"""
    from archforge.export import export_checkpoint

    own, rest = _split(args, ("checkpoint", "format", "output", "opset"))
    if rest:
        raise ConfigError(rest[0], "export takes checkpoint=PATH format=... output=DIR")
    if "checkpoint" not in own:
        raise ConfigError("checkpoint", "missing; archforge export checkpoint=PATH")
    written = export_checkpoint(
        own["checkpoint"],
        fmt=own.get("format", "both"),
        output=Path(own["output"]) if "output" in own else None,
    )
    for path in written:
        print(f"wrote {path}")
    return 0
