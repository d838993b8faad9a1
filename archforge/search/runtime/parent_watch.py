"""A worker child ends when the search process that started it dies, even by SIGKILL.

Otherwise an orphan (re-parented to PID 1) would keep training and adding trials that
nobody sees. Two mechanisms, so that neither a platform nor a race leaves one running:

- Linux: `prctl(PR_SET_PDEATHSIG, SIGTERM)` (prctl(2)): the kernel sends SIGTERM the moment
  the parent dies. A parent that died before the call is caught by comparing
  `os.getppid()` with the parent's pid right after it.
- everywhere: a daemon thread compares `os.getppid()` with the parent's pid every second.

SIGTERM goes through the worker's usual stop handling (signals.py): its running trial is
recorded FAIL with `retry` and re-queued on resume. A worker still alive `grace` seconds
after that (stuck in native code) exits at once; its trial is then an orphan, re-queued
all the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def parent_alive(parent: int) -> bool:
    return os.getppid() == parent


def watch_parent(parent: int, grace: float, every: float = 1.0) -> None:
    """Arrange for this process to stop (SIGTERM, then exit after `grace` s) when
    `parent` dies."""
    _set_pdeathsig(signal.SIGTERM)
    threading.Thread(target=_watch, args=(parent, grace, every), daemon=True,
                     name="af-parent-watch").start()


def _watch(parent: int, grace: float, every: float) -> None:
    while parent_alive(parent):
        time.sleep(every)
    os.kill(os.getpid(), signal.SIGTERM)  # the usual stop: the trial is recorded and re-queued
    time.sleep(grace)
    os._exit(128 + signal.SIGTERM)
