"""Checkpoint files on disk: a safe reader and an atomic writer.

Reading uses `torch.load(weights_only=True)` (PyTorch's safe-loading mode): a file can hold
tensors and plain data, never code. Writing goes to a hidden temporary file in the target's
folder, is flushed and fsynced, then `os.replace`d over the final name (atomic within one
file system), so a crash or a full disk never leaves a partial file under a checkpoint's name.
Every failure is one `CheckpointError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import pickle
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from archforge.errors import CheckpointError

# a temporary checkpoint file this old was left by a killed writer, not one still writing
STALE_TEMP_S = 600.0

# What `torch.load` raises on an empty, truncated, foreign or code-carrying file.
_UNREADABLE = (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError,
               AttributeError, ImportError, IndexError, KeyError, TypeError)

# errno -> what the user can do about it; anything else is shown with its own strerror.
_ADVICE = {
    errno.ENOSPC: "no space left on device; free some space or choose another run directory",
    getattr(errno, "EDQUOT", -1): "disk quota exceeded; free some space or another folder",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EROFS: "read-only file system; choose a writable run directory",
    errno.EISDIR: "it is a directory; remove or rename it",
    errno.ENOTDIR: "a parent of it is a file, not a folder",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def read_checkpoint(
    path: str | Path, key: str = "checkpoint", map_location: Any = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint or state dict file safely; `key` is the config key the path came
    from, named in every error."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise CheckpointError(f"{key}: {p} is a directory, not a checkpoint file")
    if not p.is_file():
        raise CheckpointError(f"{key}: file not found: {p}")
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except PermissionError as exc:
        raise CheckpointError(f"{key}: cannot read {p}: permission denied") from exc
    except (OSError, *_UNREADABLE) as exc:  # a truncated zip can surface as EINVAL
        raise CheckpointError(
            f"{key}: cannot read {p}: corrupt, truncated or not a torch file "
            f"({_first_line(exc)})"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{key}: {p} holds {type(data).__name__}; expected a state dict")
    return data


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind `exc`: torch.save reports a failed write as a RuntimeError
    ("enforce fail at inline_container.cc") whose context holds the real ENOSPC."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _unwritable(target: Path, error: OSError, key: str) -> CheckpointError:
    reason = _ADVICE.get(error.errno or 0, error.strerror or str(error))
    return CheckpointError(f"{key}: cannot write {target}: {reason}")


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder for this.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_save(obj: Any, path: str | Path, key: str = "checkpoint") -> Path:
    """`torch.save` `obj` to `path` through a temporary file; the old file, if any, stays
    whole until the new one is complete. Returns the path written."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise CheckpointError(f"{key}: cannot write {target}: {_ADVICE[errno.EISDIR]}")
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
        with open(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        error = _os_error(exc)
        if error is not None:
            raise _unwritable(target, error, key) from exc
        raise
    _fsync_dir(target.parent)
    remove_stale_temps(target)
    return target


def remove_stale_temps(target: Path, older_than: float = STALE_TEMP_S) -> list[Path]:
    """Temporary files of `target` left by a writer killed mid-save (SIGKILL skips the
    cleanup above); only those older than `older_than` seconds, never a save in progress."""
    removed = []
    now = time.time()
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime > older_than:
                stale.unlink()
                removed.append(stale)
    return removed


def check_writable(path: str | Path, key: str = "checkpoint") -> None:
    """Fail now, not after an epoch, when `path` could not be saved later: it is a
    directory, its folder cannot be created, or nothing can be written there."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise CheckpointError(f"{key}: cannot write {target}: {_ADVICE[errno.EISDIR]}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise _unwritable(target, exc, key) from exc
