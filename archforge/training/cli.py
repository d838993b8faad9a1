"""`archforge train | predict | export`: Hydra-style `key=value` overrides in, one result out.

User errors (ConfigError, CheckpointError) propagate to archforge.cli, which prints them as
one line and exits with status 2.
"""

from __future__ import annotations

import logging
import os

from archforge.config.compose import compose


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
    from archforge.predict import command

    return command(args)


def export(args: list[str]) -> int:
    """archforge export checkpoint=PATH [format=onnx|torchscript|both] [output=DIR] [opset=N]"""
    from archforge.export import command

    return command(args)
