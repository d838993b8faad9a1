"""Folders named by a checkpoint's stored data config are read only within a bound.

`archforge evaluate` and `archforge predict` rebuild the data a checkpoint was trained on from
the config stored inside it. A checkpoint is a file someone may have sent you: one whose
stored `data.root` is `/` would make an image folder list, verify and open every file of the
machine (FIFOs and /proc included). The rule: a folder that comes from the checkpoint (not
from the command line) is used only if it holds at most `ConfigLimits.max_stored_folder_files`
entries (100,000 by default; `ARCHFORGE_MAX_STORED_FOLDER_FILES` raises it), counted without
following links and stopping at the first entry past the bound, so the count itself never
walks a large tree. A larger folder is refused with one ConfigError naming the key to pass;
a folder named on the command line (`data.root=...`) is read whatever its size.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from archforge.errors import ConfigError
from archforge.limits import config_limits

FOLDER_KEYS = ("root", "train_dir", "val_dir", "test_dir")


def count_entries(folder: Path, limit: int) -> int:
    """Files and folders under `folder` (links not followed), counted up to `limit + 1`."""
    count = 0
    pending = [folder]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:  # unreadable: nothing under it would be read either
            continue
        with entries:
            for entry in entries:
                count += 1
                if count > limit:
                    return count
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                except OSError:
                    continue
    return count


def check_stored_folders(data: Mapping[str, Any], named: Collection[str],
                         path: str = "data") -> None:
    """Refuse a folder of the stored data config `data` that holds more entries than the
    bound, unless its key is in `named` (set on the command line)."""
    limit = config_limits().max_stored_folder_files
    for key in FOLDER_KEYS:
        value = data.get(key)
        if key in named or not isinstance(value, str) or not value:
            continue
        folder = Path(value).expanduser()
        if folder.is_dir() and count_entries(folder, limit) > limit:
            raise ConfigError(
                f"{path}.{key}",
                f"{folder} comes from the checkpoint and holds more than {limit:,} files and "
                f"folders; a folder that large is read only when you name it: pass "
                f"{path}.{key}=<folder> on the command line (ARCHFORGE_MAX_STORED_FOLDER_FILES "
                "raises the bound)",
            )
