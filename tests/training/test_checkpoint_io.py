"""Lightning's CheckpointIO adapter writes and reads through archforge.checkpoint."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from archforge.checkpoint import files as files_module
from archforge.errors import CheckpointError
from archforge.training.checkpoint_io import AtomicCheckpointIO


def test_crash_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoints" / "best.ckpt"

    def dying_save(obj: object, f) -> None:
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_module.torch, "save", dying_save)
    with pytest.raises(CheckpointError, match=f"cannot write {target}: no space left"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, target)
    assert list(target.parent.iterdir()) == []


def test_replaces_existing_checkpoint_whole(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, target)
    io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, target)
    loaded = io.load_checkpoint(target)
    assert loaded["epoch"] == 2 and torch.equal(loaded["w"], torch.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_load_is_safe_and_names_the_file(tmp_path: Path) -> None:
    evil = tmp_path / "evil.ckpt"
    torch.save({"epoch": 1, "fn": print}, evil)
    with pytest.raises(CheckpointError, match=r"ckpt_path: cannot read .*evil\.ckpt"):
        AtomicCheckpointIO().load_checkpoint(evil)
