"""Lightning's `CheckpointIO` plugin over `archforge.checkpoint`: atomic saves (a crash or
a full disk never leaves a partial file under a checkpoint's name) and safe
`weights_only` loads, each failure one CheckpointError naming the file."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.plugins.io import TorchCheckpointIO

from archforge.checkpoint import atomic_save, read_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, reading and writing through `archforge.checkpoint`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported by AtomicCheckpointIO")
        atomic_save(checkpoint, path)

    def load_checkpoint(
        self, path: Any, map_location: Any = "cpu", weights_only: bool | None = None
    ) -> dict[str, Any]:
        # Always weights_only: archforge checkpoints hold tensors and plain data only.
        return read_checkpoint(path, "ckpt_path", map_location=map_location)
