"""The supernet's checkpoint in the study folder: written atomically after every epoch,
resumed after a kill, trained once per study.

`<root>/<study_name>/supernet.pt` holds the shared weights, the optimizer and schedule, the
epochs done and a description of what it was made for (branches and tensor shapes). The
first worker to need it takes an exclusive lock on `supernet.lock` (POSIX `flock`, released
by the kernel when a process dies), trains or resumes, writes it with `complete: true`;
every other worker, and every later resumed run, waits on the lock and then only loads it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from archforge.errors import ConfigError

FILE = "supernet.pt"
VERSION = 1


def save(path: Path, state: dict[str, Any]) -> None:
    """Write through a temporary file in the same folder: a reader (or a resume after a
    kill mid-write) never sees half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"version": VERSION, **state}, tmp)
    os.replace(tmp, path)


def load(path: Path, describe: str) -> dict[str, Any] | None:
    """The checkpoint at `path`, None where there is none; a checkpoint made for another
    supernet is an error naming the file."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("version") != VERSION or state.get("describe") != describe:
        raise ConfigError("search.supernet", f"{path} was trained for another space or "
                          "supernet version; delete it (or use a new search.study_name) to "
                          "train the supernet again")
    return dict(state)


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def trained_once(folder: Path, describe: str,
                 train: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
    """The complete checkpoint: loaded, or made by `train(partial or None)` under the lock
    (`train` saves each epoch itself and returns the final state)."""
    path = folder / FILE
    with exclusive(folder / "supernet.lock"):
        state = load(path, describe)
        if state is not None and state.get("complete"):
            return state
        return train(state)
