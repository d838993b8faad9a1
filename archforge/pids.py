"""Whether a process still runs, by its pid (this machine only)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while process `pid` runs; a zombie (killed, not yet reaped by its parent) counts
    as dead. A process of another user that we may not signal counts as alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): kill(0) said it exists
        return True
