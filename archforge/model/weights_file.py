"""`model.weights` checked when the config is, not when training reaches it.

Only its existence and kind are checked here (no tensors are read): a regular file, readable,
that starts the way a file written by `torch.save` does - a zip archive (PyTorch's format
since 1.6) or a pickle of protocol 2 or later (the legacy format). A typo, a folder or a text
file such as /etc/passwd is then one ConfigError from `train`, `search` and `summary` alike,
before any work; whether the tensors fit the network is checked when they are loaded
(archforge/checkpoint/weights.py).
"""

from __future__ import annotations

import stat
from pathlib import Path

from archforge.errors import ConfigError

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80  # the opcode that opens a pickle of protocol >= 2


def check_weights_file(value: str | None, key: str = "model.weights") -> None:
    """Refuse a `model.weights` that cannot be a weights file (None or '' means none)."""
    if not value:
        return
    path = Path(value).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(key, f"file not found: {path} ({exc.strerror})") from exc
    if stat.S_ISDIR(mode):
        raise ConfigError(key, f"{path} is a directory; expected a checkpoint or state-dict "
                          "file written by torch.save")
    if not stat.S_ISREG(mode):  # a FIFO would block the read below
        raise ConfigError(key, f"{path} is not a regular file; expected a checkpoint file")
    try:
        with path.open("rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    if not (head.startswith(ZIP_MAGIC) or head[:1] == bytes([PICKLE_PROTO])):
        raise ConfigError(key, f"{path} is not a file written by torch.save (neither a zip "
                          "archive nor a pickle); expected a checkpoint or state-dict file")
