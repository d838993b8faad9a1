"""Checkpoints are written atomically: a crash mid-write leaves no file under the real name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from archforge.training import checkpoint_io
from archforge.training.checkpoint_io import AtomicCheckpointIO


def test_crash_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoints" / "best.ckpt"

    def dying_save(obj, f) -> None:
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_io.torch, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, target)
    assert list(target.parent.iterdir()) == []


def test_replaces_existing_checkpoint_whole(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, target)
    io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, target)
    loaded = torch.load(target, weights_only=True)
    assert loaded["epoch"] == 2 and torch.equal(loaded["w"], torch.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
