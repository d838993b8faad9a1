"""atomic_save: a failed write is one clear error naming the file and leaves nothing behind;
an existing checkpoint stays whole until its replacement is complete."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from archforge.checkpoint import atomic_save, check_writable, read_checkpoint
from archforge.checkpoint import files as files_module
from archforge.errors import CheckpointError

DATA = {"epoch": 3, "w": torch.arange(10_000, dtype=torch.float32)}


class _FullDisk:
    """A real file whose writes fail with ENOSPC once a few bytes are on disk."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def write(self, data: bytes) -> int:
        if self._f.tell() > 64:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def test_full_disk_names_the_path_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "best.ckpt"
    atomic_save({"epoch": 1}, target)
    before = target.read_bytes()

    def full_open(fd: int, mode: str) -> _FullDisk:
        return _FullDisk(builtins.open(fd, mode))

    monkeypatch.setattr(files_module, "open", full_open, raising=False)
    with pytest.raises(CheckpointError) as info:
        atomic_save(DATA, target)
    assert str(info.value) == (
        f"checkpoint: cannot write {target}: no space left on device; free some space or "
        "choose another run directory"
    )
    # torch reported it as "enforce fail at inline_container.cc"; the ENOSPC is what we show
    assert isinstance(info.value.__cause__, RuntimeError)
    assert [p.name for p in tmp_path.iterdir()] == ["best.ckpt"]  # no temporary file
    assert target.read_bytes() == before  # the previous checkpoint is untouched


@pytest.mark.parametrize(
    ("where", "code", "reason"),
    [
        ("mkstemp", errno.EACCES, "permission denied"),
        ("mkstemp", errno.EROFS, "read-only file system"),
        ("fsync", errno.ENOSPC, "no space left on device"),
        ("replace", errno.EROFS, "read-only file system"),
    ],
)
def test_os_errors_are_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, reason: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, "simulated")

    owner = files_module.tempfile if where == "mkstemp" else files_module.os
    monkeypatch.setattr(owner, where, fail)
    target = tmp_path / "run" / "last.ckpt"
    with pytest.raises(CheckpointError, match=f"cannot write {target}: {reason}"):
        atomic_save(DATA, target)
    monkeypatch.undo()
    assert list((tmp_path / "run").iterdir()) == []


def test_directory_in_the_way(tmp_path: Path) -> None:
    target = tmp_path / "best.ckpt"
    target.mkdir()
    for action in (lambda: atomic_save(DATA, target), lambda: check_writable(target)):
        with pytest.raises(CheckpointError, match=f"cannot write {target}: it is a directory"):
            action()
    assert list(target.iterdir()) == [] and list(tmp_path.iterdir()) == [target]


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").write_text("not a folder")
    target = tmp_path / "checkpoints" / "best.ckpt"
    with pytest.raises(CheckpointError, match=f"cannot write {target}: "):
        atomic_save(DATA, target)
    with pytest.raises(CheckpointError, match=f"cannot write {target}: "):
        check_writable(target)


def test_round_trip_and_whole_replacement(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "last.ckpt"
    assert atomic_save({"epoch": 1, "w": torch.ones(3)}, target) == target
    atomic_save(DATA, target)
    loaded = read_checkpoint(target)
    assert loaded["epoch"] == 3 and torch.equal(loaded["w"], DATA["w"])
    check_writable(target)  # an existing file may be replaced; the probe leaves nothing
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]


def test_read_refuses_code_and_non_dicts(tmp_path: Path) -> None:
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "fn": print}, evil)  # weights_only=True refuses callables
    with pytest.raises(CheckpointError, match=r"evil\.ckpt.*corrupt, truncated or not a torch"):
        read_checkpoint(evil)
    listed = tmp_path / "list.ckpt"
    torch.save([torch.ones(1)], listed)
    with pytest.raises(CheckpointError, match=r"list\.ckpt holds list; expected a state dict"):
        read_checkpoint(listed)


def test_a_temp_file_left_by_a_killed_save_is_removed_by_the_next(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    stale = tmp_path / ".last.ckpt.k1ll3d.tmp"  # SIGKILL during torch.save leaves this
    fresh = tmp_path / ".last.ckpt.wr1t1ng.tmp"  # a save in progress elsewhere: kept
    other = tmp_path / ".best.ckpt.k1ll3d.tmp"  # another target's: left to its own saves
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = os.path.getmtime(stale) - files_module.STALE_TEMP_S - 1
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_save({"x": 1}, target)
    assert not stale.exists() and fresh.exists() and other.exists()
    assert read_checkpoint(target, "checkpoint")["x"] == 1
