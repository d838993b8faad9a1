"""Checkpoint writing that never leaves a partial file under a checkpoint's name.

The bytes go to a hidden temporary file in the same directory, are flushed to disk, and only
then `os.replace`d over the final name (atomic on POSIX and Windows within one file system).
A crash mid-write leaves at most a `.*.tmp` file that no loader looks for.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, saving through `atomic_torch_save`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported by AtomicCheckpointIO")
        atomic_torch_save(checkpoint, path)
